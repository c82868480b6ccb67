#include "data/list_file.h"

#include <gtest/gtest.h>

#include "support/expect_error.h"
#include "tests/data/test_files.h"

namespace data {
namespace {

using engine::testing::expect_error;
using namespace data::testing;

TEST(ListFile, IdsPathsBlanksAndComments) {
  const std::string dir = scratch_dir("list_ok");
  write_text(dir + "/l.txt",
             "2007_000032\r\n\n# comment\n  2007_000039  \n/JPEGImages/2008_1.jpg "
             "/segcls/2008_1.png\n");
  const std::vector<ListEntry> e = read_list_file(dir + "/l.txt");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].id, "2007_000032");
  EXPECT_EQ(e[0].line, 1);
  EXPECT_EQ(e[1].id, "2007_000039");
  EXPECT_EQ(e[1].line, 4);
  EXPECT_EQ(e[2].id, "2008_1");
  EXPECT_EQ(e[2].line, 5);
}

TEST(ListFile, MissingAndEmptyLists) {
  const std::string dir = scratch_dir("list_bad");
  expect_error([&] { read_list_file(dir + "/none.txt"); }, {dir + "/none.txt", "does not exist"});
  write_text(dir + "/empty.txt", "\n# only a comment\n\n");
  expect_error([&] { read_list_file(dir + "/empty.txt"); }, {"empty.txt", "no image ids"});
}

TEST(ListFile, MissingEntriesNameListLineAndFile) {
  const std::string dir = scratch_dir("list_missing");
  write_text(dir + "/a.jpg", "x");
  write_text(dir + "/l.txt", "a\nb\n");
  const std::vector<ListEntry> e = read_list_file(dir + "/l.txt");
  const std::vector<RequiredFile> req = {
      {"image", [&](const std::string& id) { return dir + "/" + id + ".jpg"; }}};
  expect_error([&] { check_list_files(dir + "/l.txt", e, req); },
               {dir + "/l.txt", "line 2", "id 'b'", "image '" + dir + "/b.jpg' does not exist",
                "1 missing"});
  // Many missing entries: the first few are shown and the rest counted.
  std::string many;
  for (int i = 0; i < 12; ++i) many += fmt::format("m{}\n", i);
  write_text(dir + "/many.txt", many);
  expect_error([&] { check_list_files(dir + "/many.txt", read_list_file(dir + "/many.txt"), req); },
               {"12 missing", "line 1", "and 7 more"});
  EXPECT_NO_THROW(check_list_files(dir + "/l.txt", {e[0]}, req));
}

}  // namespace
}  // namespace data
