#include "support/process_scratch.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>

namespace engine::testing {
namespace {

// Folders made by this process, removed by the destructor at exit.
struct Folders {
  std::mutex mutex;
  std::map<std::string, std::string> by_name;
  pid_t owner = getpid();
  ~Folders() {
    if (getpid() != owner) return;  // a forked child leaves its parent's folders alone
    std::error_code ec;  // a failed removal must not turn a passing test process into a crash
    for (auto& [name, path] : by_name) std::filesystem::remove_all(path, ec);
  }
};

Folders& folders() {
  static Folders f;
  return f;
}

}  // namespace

std::string process_scratch(const std::string& base, const std::string& name) {
  Folders& f = folders();
  std::lock_guard<std::mutex> lock(f.mutex);
  auto it = f.by_name.find(name);
  if (it != f.by_name.end()) return it->second;
  const std::string path = base + "/" + name + "-" + std::to_string(getpid());
  std::filesystem::remove_all(path);  // left by an earlier process of the same id
  std::filesystem::create_directories(path);
  f.by_name.emplace(name, path);
  return path;
}

}  // namespace engine::testing
