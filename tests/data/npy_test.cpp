// .npy writer and reader: exact header text, 64-byte alignment, round trips, bad files.
#include "data/npy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/expect_error.h"

namespace {

namespace fs = std::filesystem;
using engine::Tensor;

fs::path scratch(const std::string& name) {
  fs::path dir = fs::path(ENGINE_TEST_SCRATCH) / "npy";
  fs::create_directories(dir);
  return dir / name;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(Npy, HeaderTextAndAlignment) {
  const std::string h = data::npy_header(Tensor::empty({2, 3, 5}, engine::DType::f32));
  EXPECT_EQ(h.size() % 64, 0u);
  EXPECT_EQ(h.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(size_t(uint8_t(h[8])) | size_t(uint8_t(h[9])) << 8, h.size() - 10);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 5), }";
  EXPECT_EQ(h.substr(10, dict.size()), dict);
  EXPECT_EQ(h.find_first_not_of(' ', 10 + dict.size()), h.size() - 1);
  EXPECT_EQ(h.back(), '\n');
  EXPECT_NE(data::npy_header(Tensor::empty({7}, engine::DType::u8)).find("'|u1'"),
            std::string::npos);
  EXPECT_NE(data::npy_header(Tensor::empty({7}, engine::DType::u8)).find("'shape': (7,)"),
            std::string::npos);
  EXPECT_NE(data::npy_header(Tensor::empty({}, engine::DType::i32)).find("'shape': ()"),
            std::string::npos);
}

TEST(Npy, RoundTripsValuesShapesAndDtypes) {
  std::vector<float> v(2 * 3 * 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.25f - 3.0f;
  const Tensor f = Tensor::from_vector(v, {2, 3, 5});
  data::write_npy(scratch("f.npy").string(), f);
  EXPECT_EQ(fs::file_size(scratch("f.npy")) % 64, (v.size() * 4) % 64);
  const Tensor g = data::read_npy(scratch("f.npy").string());
  EXPECT_EQ(g.shape(), f.shape());
  EXPECT_EQ(g.to_vector<float>(), v);

  // A non-contiguous view is written in its logical (C) order.
  const Tensor t = f.transpose(0, 2);
  data::write_npy(scratch("t.npy").string(), t);
  EXPECT_EQ(data::read_npy(scratch("t.npy").string()).to_vector<float>(), t.to_vector<float>());

  const Tensor u = Tensor::from_vector(std::vector<uint8_t>{1, 2, 255}, {3});
  data::write_npy(scratch("u.npy").string(), u);
  const Tensor w = data::read_npy(scratch("u.npy").string());
  EXPECT_EQ(w.dtype(), engine::DType::u8);
  EXPECT_EQ(w.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 2, 255}));
}

TEST(Npy, BadFilesAndDtypes) {
  write_bytes(scratch("bad_magic.npy"), "PK\x03\x04 not numpy");
  engine::testing::expect_error([] { data::read_npy(scratch("bad_magic.npy").string()); },
                                "no \\x93NUMPY magic");
  std::string h = data::npy_header(Tensor::empty({4}, engine::DType::f32));
  write_bytes(scratch("short.npy"), h + std::string(8, '\0'));
  engine::testing::expect_error([] { data::read_npy(scratch("short.npy").string()); },
                                {"needs 16 data bytes", "has 8"});
  std::string fortran = h;
  fortran.replace(fortran.find("False"), 5, "True ");
  write_bytes(scratch("fortran.npy"), fortran + std::string(16, '\0'));
  engine::testing::expect_error([] { data::read_npy(scratch("fortran.npy").string()); }, "Fortran");
  engine::testing::expect_error([] { data::read_npy(scratch("absent.npy").string()); },
                                "cannot open");
  engine::testing::expect_error(
      [] { data::write_npy(scratch("x.npy").string(), Tensor::empty({2}, engine::DType::bf16)); },
      "not one of f32, i32, i64, u8");
}

}  // namespace
