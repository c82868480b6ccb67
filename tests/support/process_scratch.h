// A scratch folder of the calling test process's own. ctest -j runs the tests of one executable
// as parallel processes; fixtures that a file's tests build once and share (a dataset, a short
// training run) must not be built in one folder by two processes at a time.
#pragma once

#include <string>

namespace engine::testing {

// Returns base/name-<pid>, created empty on the first call for that name and removed with all
// its contents when the process exits normally.
std::string process_scratch(const std::string& base, const std::string& name);

}  // namespace engine::testing
