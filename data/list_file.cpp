#include "data/list_file.h"

#include <filesystem>
#include <fstream>

#include "engine/error.h"

namespace data {

std::vector<ListEntry> read_list_file(const std::string& path) {
  std::error_code ec;
  ENGINE_CHECK(std::filesystem::is_regular_file(path, ec), "list file '{}' does not exist", path);
  std::ifstream in(path);
  ENGINE_CHECK(in.good(), "list file '{}' exists but cannot be opened for reading", path);
  std::vector<ListEntry> entries;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    // Windows line endings and surrounding blanks are not part of an id.
    const size_t begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos || line[begin] == '#') continue;
    const size_t end = line.find_first_of(" \t\r", begin);
    std::string token = line.substr(begin, end == std::string::npos ? end : end - begin);
    if (token.find('/') != std::string::npos || token.find('.') != std::string::npos)
      token = std::filesystem::path(token).stem().string();
    ENGINE_CHECK(!token.empty(), "list file '{}' line {}: no image id in '{}'", path, number, line);
    for (char c : token)
      ENGINE_CHECK(c != '\\' && c != ':' && c != '\0' && static_cast<unsigned char>(c) >= 0x20,
                   "list file '{}' line {}: id '{}' contains a character that cannot be part "
                   "of a file name",
                   path, number, token);
    entries.push_back({std::move(token), number});
  }
  ENGINE_CHECK(!in.bad(), "list file '{}': read error after line {}", path, number);
  ENGINE_CHECK(!entries.empty(), "list file '{}' holds no image ids ({} lines)", path, number);
  return entries;
}

void check_list_files(const std::string& list_path, const std::vector<ListEntry>& entries,
                      const std::vector<RequiredFile>& required) {
  constexpr int kShown = 5;
  std::string shown;
  int64_t missing = 0;
  for (const ListEntry& e : entries) {
    for (const RequiredFile& r : required) {
      const std::string file = r.path_of(e.id);
      std::error_code ec;
      if (std::filesystem::is_regular_file(file, ec)) continue;
      if (missing++ < kShown)
        shown +=
            fmt::format("\n  line {}: id '{}': {} '{}' does not exist", e.line, e.id, r.what, file);
    }
  }
  ENGINE_CHECK(missing == 0, "list file '{}': {} missing file(s) among {} entries:{}{}", list_path,
               missing, entries.size(), shown,
               missing > kShown ? fmt::format("\n  ... and {} more", missing - kShown) : "");
}

}  // namespace data
