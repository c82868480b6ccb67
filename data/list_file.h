// List files (ImageSets/Segmentation/<split>.txt): one image id per line, checked against the
// files a dataset needs when the dataset is built, so that a bad list fails at start-up and not
// in the middle of training.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace data {

struct ListEntry {
  std::string id;  // e.g. "2007_000032"
  int line = 0;    // 1-based line number in the list file
};

// Reads a list file. A line holds an id ("2007_000032"); reference-style lines holding paths
// ("/JPEGImages/2007_000032.jpg /segcls/2007_000032.png") give the stem of their first path.
// Blank lines and lines starting with '#' are skipped. Errors: missing or unreadable file, a list
// with no entries, a line whose id contains characters that cannot be part of a file name.
std::vector<ListEntry> read_list_file(const std::string& path);

// One kind of file every entry must have, e.g. {"image", [](id) { return root + "/JPEGImages/" +
// id + ".jpg"; }}.
struct RequiredFile {
  std::string what;
  std::function<std::string(const std::string& id)> path_of;
};

// Checks that every required file of every entry exists as a regular file. Raises one error
// listing the first missing entries, each with the list's path, its line number, what is missing
// and the missing path, plus the total count.
void check_list_files(const std::string& list_path, const std::vector<ListEntry>& entries,
                      const std::vector<RequiredFile>& required);

}  // namespace data
