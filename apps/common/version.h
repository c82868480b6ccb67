// The version line every app prints for --version and writes into its run folder.
#pragma once

#include <string>

namespace apps {
// "spml-engine 0.1.0 (CUDA backend: yes|no, devices: N)".
std::string version_line();
}  // namespace apps
