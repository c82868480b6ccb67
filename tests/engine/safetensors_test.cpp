// safetensors reading/writing: bit-exact round trips of every dtype, a hand-written file, every
// corruption the loader must refuse (each error names the file and the problem), and the atomic
// replacement of existing files.
#include "engine/io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "engine/autograd.h"
#include "engine/io/atomic_file.h"

namespace engine::io {
namespace {

namespace fs = std::filesystem;

// The message of the engine::Error that f throws ("" when it throws nothing).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

#define EXPECT_ERROR_HAS(stmt, ...)                                        \
  do {                                                                     \
    std::string msg_ = error_of([&] { stmt; });                            \
    EXPECT_FALSE(msg_.empty()) << #stmt << " did not throw";               \
    for (const std::string& part_ : std::vector<std::string>{__VA_ARGS__}) \
      EXPECT_NE(msg_.find(part_), std::string::npos)                       \
          << "message \"" << msg_ << "\" lacks \"" << part_ << "\"";       \
  } while (0)

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A file with the given header text and `buffer` after it.
std::string file_bytes(std::string_view header, std::string_view buffer) {
  uint64_t n = header.size();
  std::string s(reinterpret_cast<const char*>(&n), 8);
  s += header;
  s += buffer;
  return s;
}

// A tensor of `dtype` and `shape` whose bytes follow a fixed pseudo-random pattern (for floats
// this includes NaNs with payloads, infinities and subnormals: the round trip must keep bits).
Tensor patterned(const Shape& shape, DType dtype, uint32_t seed) {
  Tensor t = Tensor::empty(shape, dtype);
  auto* b = static_cast<uint8_t*>(t.raw_data());
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < t.nbytes(); ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[i] = dtype == DType::boolean ? uint8_t(x & 1) : uint8_t(x >> 7);
  }
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0);
}

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "safetensors_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  size_t entries_in_dir() const {
    return size_t(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  // Writes a file from a header and buffer and returns the loader's error message.
  std::string load_error(std::string_view header, std::string_view buffer,
                         const std::string& name = "bad.safetensors") {
    write_bytes(file(name), file_bytes(header, buffer));
    return error_of([&] { load_safetensors(file(name)); });
  }

  std::string dir_;
};

TEST_F(Safetensors, RoundTripsEveryDTypeBitExact) {
  NamedTensors in;
  uint32_t seed = 1;
  for (DType dt : kAllDTypes) {
    std::string n = dtype_name(dt);
    in.emplace_back(n + ".matrix", patterned({3, 5}, dt, seed++));
    in.emplace_back(n + ".scalar", patterned({}, dt, seed++));
    in.emplace_back(n + ".empty", patterned({0, 3}, dt, seed++));
    in.emplace_back(n + ".nhwc", patterned({1, 3, 5, 7}, dt, seed++));
  }
  save_safetensors(file("all.safetensors"), in);
  SafetensorsFile out = load_safetensors(file("all.safetensors"));
  ASSERT_EQ(out.tensors.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out.tensors[i].first, in[i].first);
    EXPECT_TRUE(same_bytes(out.tensors[i].second, in[i].second)) << in[i].first;
    EXPECT_TRUE(out.tensors[i].second.is_contiguous());
  }
  EXPECT_TRUE(out.metadata.empty());
}

TEST_F(Safetensors, SavesNonContiguousViewsAsTheirValues) {
  Tensor base = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  Tensor transposed = base.transpose(0, 1);  // [4, 3]
  Tensor strided = base.slice(1, 0, 4, 2);   // [3, 2]
  Tensor expanded = base.select(0, 1).unsqueeze(0).expand({2, 4});
  save_safetensors(file("views.safetensors"), {{"t", transposed}, {"s", strided}, {"e", expanded}});
  SafetensorsFile f = load_safetensors(file("views.safetensors"));
  EXPECT_EQ(f.at("t").shape(), (Shape{4, 3}));
  EXPECT_EQ(f.at("t").to_vector<float>(),
            (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  EXPECT_EQ(f.at("s").to_vector<float>(), (std::vector<float>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(f.at("e").to_vector<float>(), (std::vector<float>{4, 5, 6, 7, 4, 5, 6, 7}));
}

TEST_F(Safetensors, SavesTensorsThatRequireGrad) {
  Tensor w = Tensor::from_vector<double>({1.25, -2.5}, {2});
  w.set_requires_grad(true);
  save_safetensors(file("w.safetensors"), {{"w", w}});
  EXPECT_EQ(load_safetensors(file("w.safetensors")).at("w").to_vector<double>(),
            (std::vector<double>{1.25, -2.5}));
}

TEST_F(Safetensors, RoundTripsMetadataAndNamesNeedingEscapes) {
  std::map<std::string, std::string> meta = {
      {"format", "pt"}, {"quote\"key", "back\\slash"}, {"ctl", "tab\tnl\n\x01"}, {"utf8", "é→"}};
  save_safetensors(file("m.safetensors"),
                   {{"layer1.0.conv1.weight", patterned({2, 3, 3, 1}, DType::f32, 7)},
                    {"odd \"name\"\\", patterned({2}, DType::i64, 8)}},
                   meta);
  SafetensorsFile f = load_safetensors(file("m.safetensors"));
  EXPECT_EQ(f.metadata, meta);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"layer1.0.conv1.weight", "odd \"name\"\\"}));
}

TEST_F(Safetensors, WritesTheSpecLayout) {
  save_safetensors(file("x.safetensors"), {{"x", Tensor::from_vector<float>({1, 2, 3}, {3})}},
                   {{"k", "v"}});
  std::string bytes = read_bytes(file("x.safetensors"));
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u) << "the data buffer should start 8-byte aligned";
  ASSERT_EQ(bytes.size(), 8 + n + 12);
  std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1),
            R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"__metadata__":{"k":"v"}})");
  float v[3];
  std::memcpy(v, bytes.data() + 8 + n, 12);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[2], 3.0f);
}

TEST_F(Safetensors, LoadsAHandWrittenFile) {
  // Header keys out of buffer order, extra whitespace, metadata in the middle.
  std::string header =
      R"({ "b": {"dtype": "I32", "shape": [2], "data_offsets": [8, 16]},
           "__metadata__": {"format": "pt"},
           "a": {"shape": [1, 2], "dtype": "F32", "data_offsets": [0, 8]},
           "s": {"dtype": "BF16", "shape": [], "data_offsets": [16, 18]},
           "z": {"dtype": "F64", "shape": [0, 4], "data_offsets": [18, 18]} }   )";
  float a[2] = {1.5f, -2.0f};
  int32_t b[2] = {7, -9};
  uint16_t s = 0x4049;  // bf16 3.140625
  std::string buffer(reinterpret_cast<const char*>(a), 8);
  buffer.append(reinterpret_cast<const char*>(b), 8);
  buffer.append(reinterpret_cast<const char*>(&s), 2);
  write_bytes(file("hand.safetensors"), file_bytes(header, buffer));

  SafetensorsFile f = load_safetensors(file("hand.safetensors"));
  EXPECT_EQ(f.path, file("hand.safetensors"));
  EXPECT_EQ(f.names(), (std::vector<std::string>{"a", "b", "s", "z"}));
  EXPECT_EQ(f.at("a").shape(), (Shape{1, 2}));
  EXPECT_EQ(f.at("a").to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(f.at("b").dtype(), DType::i32);
  EXPECT_EQ(f.at("b").to_vector<int32_t>(), (std::vector<int32_t>{7, -9}));
  EXPECT_EQ(f.at("s").dim(), 0);
  EXPECT_EQ(f.at("s").item(), 3.140625);
  EXPECT_EQ(f.at("z").shape(), (Shape{0, 4}));
  EXPECT_EQ(f.metadata.at("format"), "pt");
  EXPECT_TRUE(f.contains("a"));
  EXPECT_FALSE(f.contains("c"));
  EXPECT_ERROR_HAS(f.at("c"), file("hand.safetensors"), "no tensor named 'c'", "a, b, s, z");
}

TEST_F(Safetensors, EmptyFileWithNoTensorsLoads) {
  save_safetensors(file("none.safetensors"), {});
  SafetensorsFile f = load_safetensors(file("none.safetensors"));
  EXPECT_TRUE(f.tensors.empty());
}

TEST_F(Safetensors, RejectsUnreadableAndTruncatedFiles) {
  EXPECT_ERROR_HAS(load_safetensors(file("missing.safetensors")), file("missing.safetensors"),
                   "cannot open");
  EXPECT_ERROR_HAS(load_safetensors(dir_), dir_, "not a regular file");
  write_bytes(file("short.safetensors"), "abcde");
  EXPECT_ERROR_HAS(load_safetensors(file("short.safetensors")), file("short.safetensors"),
                   "5 bytes", "shorter than the 8-byte header length");
  std::string big = file_bytes("{}", "");
  uint64_t huge = 1000;
  std::memcpy(big.data(), &huge, 8);
  write_bytes(file("big.safetensors"), big);
  EXPECT_ERROR_HAS(load_safetensors(file("big.safetensors")), file("big.safetensors"),
                   "header length 1000 is larger than the 2 bytes");
}

struct Corruption {
  const char* what;
  std::string header;
  std::string buffer;
  std::vector<std::string> expect;
};

TEST_F(Safetensors, RejectsEveryCorruptionWithFileAndReason) {
  const std::string f8(8, '\0');
  const std::vector<Corruption> cases = {
      {"not json", R"({"a": {"dtype": "F32", )", "", {"not valid JSON"}},
      {"not an object", R"([1, 2])", "", {"header must be a JSON object", "an array"}},
      {"entry not object", R"({"a": 3})", "", {"tensor 'a' must be a JSON object"}},
      {"missing dtype",
       R"({"a": {"shape": [2], "data_offsets": [0, 8]}})",
       f8,
       {"tensor 'a' has no dtype"}},
      {"missing shape",
       R"({"a": {"dtype": "F32", "data_offsets": [0, 8]}})",
       f8,
       {"tensor 'a' has no shape"}},
      {"missing offsets",
       R"({"a": {"dtype": "F32", "shape": [2]}})",
       f8,
       {"tensor 'a' has no data_offsets"}},
      {"unknown dtype",
       R"({"a": {"dtype": "I16", "shape": [4], "data_offsets": [0, 8]}})",
       f8,
       {"unknown or unsupported dtype 'I16'", "F64, F32, F16, BF16, I64, I32, U8, BOOL"}},
      {"dtype not string",
       R"({"a": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})",
       f8,
       {"dtype must be a string"}},
      {"negative shape",
       R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})",
       f8,
       {"tensor 'a' shape[0] is negative (-2)"}},
      {"fractional shape",
       R"({"a": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})",
       f8,
       {"shape[0] must be a non-negative integer", "floating-point"}},
      {"shape not array",
       R"({"a": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}})",
       f8,
       {"shape must be an array"}},
      {"too many dims",
       R"({"a": {"dtype": "U8", "shape": [1,1,1,1,1,1,1,1,1], "data_offsets": [0, 1]}})",
       "x",
       {"9 dims"}},
      {"offsets wrong arity",
       R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8]}})",
       f8,
       {"data_offsets must be an array [begin, end]"}},
      {"offsets out of order",
       R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})",
       f8,
       {"tensor 'a' data_offsets [8, 0] are out of order"}},
      {"offsets past buffer",
       R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
       f8,
       {"data_offsets [0, 16] run past the end of the 8-byte data buffer"}},
      {"negative offset",
       R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [-1, 8]}})",
       f8,
       {"data_offsets begin is negative"}},
      {"size mismatch",
       R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
       f8,
       {"tensor 'a' (F32 [3]) needs 12 bytes but data_offsets [0, 8] cover 8"}},
      {"overlap",
       R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
       std::string(12, '\0'),
       {"tensor 'b' data_offsets [4, 12] overlap tensor 'a' [0, 8]"}},
      {"gap",
       R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
           "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
       std::string(12, '\0'),
       {"gap of 4 unused bytes", "tensor 'b'"}},
      {"trailing bytes",
       R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
       f8 + "junk",
       {"data buffer has 12 bytes but the tensors cover 8 (4 trailing bytes)"}},
      {"duplicate name",
       R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
           "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
       "xy",
       {"duplicate tensor name 'a'"}},
      {"unexpected field",
       R"({"a": {"dtype": "U8", "shape": [1], "data_offset": [0, 1], "data_offsets": [0, 1]}})",
       "x",
       {"unexpected field 'data_offset'"}},
      {"metadata not strings",
       R"({"__metadata__": {"epoch": 3}})",
       "",
       {"__metadata__ value of 'epoch' must be a string"}},
      {"metadata not object", R"({"__metadata__": "pt"})", "", {"__metadata__ must be an object"}},
      {"bool byte",
       R"({"m": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]}})",
       std::string("\x01\x00\x02", 3),
       {"BOOL tensor 'm' element 2 has byte value 2"}},
  };
  for (const Corruption& c : cases) {
    SCOPED_TRACE(c.what);
    std::string name = std::string(c.what) + ".safetensors";
    for (char& ch : name)
      if (ch == ' ') ch = '_';
    std::string msg = load_error(c.header, c.buffer, name);
    ASSERT_FALSE(msg.empty()) << "loaded without error";
    EXPECT_NE(msg.find(file(name)), std::string::npos) << msg;
    for (const std::string& part : c.expect)
      EXPECT_NE(msg.find(part), std::string::npos) << "message \"" << msg << "\" lacks " << part;
  }
}

TEST_F(Safetensors, SaveRejectsBadInputsNamingTheFile) {
  std::string p = file("bad.safetensors");
  Tensor x = Tensor::from_vector<float>({1}, {1});
  EXPECT_ERROR_HAS(save_safetensors(p, {{"x", x}, {"x", x}}), p, "duplicate tensor name 'x'");
  EXPECT_ERROR_HAS(save_safetensors(p, {{"", x}}), p, "empty name");
  EXPECT_ERROR_HAS(save_safetensors(p, {{"__metadata__", x}}), p, "reserved for metadata");
  EXPECT_ERROR_HAS(save_safetensors(p, {{"u", Tensor()}}), p, "tensor 'u' is undefined");
  EXPECT_ERROR_HAS(save_safetensors(file("no/such/dir/x.safetensors"), {{"x", x}}),
                   file("no/such/dir/x.safetensors"), "temporary file");
  EXPECT_EQ(entries_in_dir(), 0u) << "failed saves must leave no files behind";
}

TEST_F(Safetensors, FailedSaveLeavesTheOldFileIntact) {
  std::string p = file("ckpt.safetensors");
  save_safetensors(p, {{"w", patterned({4, 3}, DType::f32, 3)}}, {{"step", "100"}});
  const std::string before = read_bytes(p);
  Tensor x = Tensor::from_vector<float>({1}, {1});
  EXPECT_THROW(save_safetensors(p, {{"w", x}, {"w", x}}), Error);
  EXPECT_THROW(save_safetensors(p, {{"w", x}, {"v", Tensor()}}), Error);
  EXPECT_EQ(read_bytes(p), before);
  EXPECT_EQ(entries_in_dir(), 1u) << "no temporary file may remain";
  EXPECT_EQ(load_safetensors(p).metadata.at("step"), "100");
}

TEST_F(Safetensors, AtomicFileAbandonedMidWriteKeepsTheOldFile) {
  std::string p = file("data.bin");
  write_file_atomic(p, "old contents");
  EXPECT_EQ(read_bytes(p), "old contents");
  std::string temp;
  EXPECT_THROW(
      {
        AtomicFile f(p);
        temp = f.temp_path();
        f.write("new, but ");
        EXPECT_TRUE(fs::exists(temp));
        EXPECT_EQ(read_bytes(p), "old contents") << "nothing is visible before commit";
        throw Error("simulated failure while writing", __FILE__, __LINE__);
      },
      Error);
  EXPECT_EQ(read_bytes(p), "old contents");
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_EQ(entries_in_dir(), 1u);

  {
    AtomicFile f(p);
    f.write("new contents");
    EXPECT_EQ(f.size(), 12u);
    f.commit();
    EXPECT_ERROR_HAS(f.write("more"), p, "already committed");
    EXPECT_ERROR_HAS(f.commit(), p, "twice");
  }
  EXPECT_EQ(read_bytes(p), "new contents");
  EXPECT_EQ(entries_in_dir(), 1u);
}

TEST_F(Safetensors, OverwritesAnExistingFile) {
  std::string p = file("w.safetensors");
  save_safetensors(p, {{"a", patterned({2}, DType::f32, 1)}});
  Tensor b = patterned({3, 3}, DType::f64, 2);
  save_safetensors(p, {{"b", b}});
  SafetensorsFile f = load_safetensors(p);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(same_bytes(f.at("b"), b));
}

TEST(SafetensorsDType, NamesFollowTheSpec) {
  EXPECT_STREQ(safetensors_dtype_name(DType::f32), "F32");
  EXPECT_STREQ(safetensors_dtype_name(DType::bf16), "BF16");
  EXPECT_STREQ(safetensors_dtype_name(DType::boolean), "BOOL");
  for (DType dt : kAllDTypes)
    EXPECT_EQ(dtype_from_safetensors_name(safetensors_dtype_name(dt)), dt);
  EXPECT_FALSE(dtype_from_safetensors_name("F8_E4M3").has_value());
  EXPECT_FALSE(dtype_from_safetensors_name("f32").has_value());
}

}  // namespace
}  // namespace engine::io
