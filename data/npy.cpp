#include "data/npy.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace data {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

const char* descr_of(engine::DType dtype) {
  switch (dtype) {
    case engine::DType::f32:
      return "<f4";
    case engine::DType::i32:
      return "<i4";
    case engine::DType::i64:
      return "<i8";
    case engine::DType::u8:
      return "|u1";
    default:
      return nullptr;
  }
}

// The value of `key` in a header dict ("'key': value"), up to the next top-level comma.
std::string dict_value(const std::string& dict, const std::string& key, const std::string& path) {
  const std::string tag = "'" + key + "':";
  size_t at = dict.find(tag);
  ENGINE_CHECK(at != std::string::npos, "read_npy '{}': the header has no '{}' entry: {}", path,
               key, dict);
  at += tag.size();
  while (at < dict.size() && dict[at] == ' ') ++at;
  size_t end = at;
  if (end < dict.size() && dict[end] == '(') {
    end = dict.find(')', end);
    ENGINE_CHECK(end != std::string::npos, "read_npy '{}': unterminated shape in {}", path, dict);
    return dict.substr(at, end + 1 - at);
  }
  while (end < dict.size() && dict[end] != ',' && dict[end] != '}') ++end;
  std::string v = dict.substr(at, end - at);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

}  // namespace

std::string npy_header(const engine::Tensor& tensor) {
  const char* descr = descr_of(tensor.dtype());
  ENGINE_CHECK(descr != nullptr, "write_npy: dtype of {} is not one of f32, i32, i64, u8",
               tensor.desc());
  std::string shape = "(";
  for (int64_t d : tensor.shape()) shape += fmt::format("{}, ", d);
  if (tensor.dim() == 1)
    shape.pop_back();  // "(5,)"
  else if (tensor.dim() > 1)
    shape.resize(shape.size() - 2);
  shape += ")";
  std::string dict =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
  const size_t unpadded = kMagicLen + 4 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  ENGINE_CHECK(dict.size() <= 65535, "write_npy: a header of {} bytes does not fit version 1.0",
               dict.size());
  std::string out(kMagic, kMagicLen);
  out += char(1);
  out += char(0);
  out += char(dict.size() & 0xff);
  out += char((dict.size() >> 8) & 0xff);
  return out + dict;
}

void write_npy(const std::string& path, const engine::Tensor& tensor) {
  ENGINE_CHECK(tensor.defined(), "write_npy '{}': undefined tensor", path);
  ENGINE_CHECK(tensor.device().is_cpu(), "write_npy '{}': the tensor must be on the CPU, got {}",
               path, tensor.desc());
  std::string bytes = npy_header(tensor);
  const engine::Tensor c = tensor.contiguous();
  const size_t header = bytes.size();
  bytes.resize(header + c.nbytes());
  if (c.nbytes()) std::memcpy(bytes.data() + header, c.raw_data(), c.nbytes());
  engine::io::write_file_atomic(path, bytes);
}

engine::Tensor read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  ENGINE_CHECK(f.good(), "read_npy: cannot open '{}'", path);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ENGINE_CHECK(bytes.size() >= 10 && bytes.compare(0, kMagicLen, kMagic, kMagicLen) == 0,
               "read_npy '{}': not a .npy file (no \\x93NUMPY magic)", path);
  const int major = static_cast<unsigned char>(bytes[6]);
  ENGINE_CHECK(major >= 1 && major <= 3, "read_npy '{}': unknown format version {}", path, major);
  size_t len = 0, start = 0;
  if (major == 1) {
    len = size_t(static_cast<unsigned char>(bytes[8])) |
          size_t(static_cast<unsigned char>(bytes[9])) << 8;
    start = 10;
  } else {
    ENGINE_CHECK(bytes.size() >= 12, "read_npy '{}': truncated header", path);
    for (int i = 3; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(bytes[8 + i]);
    start = 12;
  }
  ENGINE_CHECK(bytes.size() >= start + len, "read_npy '{}': truncated header ({} of {} bytes)",
               path, bytes.size() - start, len);
  const std::string dict = bytes.substr(start, len);
  const std::string descr = dict_value(dict, "descr", path);
  engine::DType dtype;
  if (descr == "'<f4'")
    dtype = engine::DType::f32;
  else if (descr == "'<i4'")
    dtype = engine::DType::i32;
  else if (descr == "'<i8'")
    dtype = engine::DType::i64;
  else if (descr == "'|u1'")
    dtype = engine::DType::u8;
  else
    ENGINE_THROW("read_npy '{}': dtype {} is not one of '<f4', '<i4', '<i8', '|u1'", path, descr);
  ENGINE_CHECK(dict_value(dict, "fortran_order", path) == "False",
               "read_npy '{}': Fortran-order arrays are not supported", path);
  const std::string shape_text = dict_value(dict, "shape", path);
  engine::Shape shape;
  for (size_t i = 1; i + 1 < shape_text.size();) {
    while (i + 1 < shape_text.size() && (shape_text[i] == ' ' || shape_text[i] == ',')) ++i;
    if (i + 1 >= shape_text.size()) break;
    size_t used = 0;
    int64_t d = -1;
    try {
      d = std::stoll(shape_text.substr(i), &used);
    } catch (const std::exception&) {
      ENGINE_THROW("read_npy '{}': bad shape {}", path, shape_text);
    }
    ENGINE_CHECK(d >= 0 && used > 0, "read_npy '{}': bad shape {}", path, shape_text);
    shape.push_back(d);
    i += used;
  }
  engine::Tensor t = engine::Tensor::empty(shape, dtype);
  const size_t data_at = start + len;
  ENGINE_CHECK(bytes.size() - data_at == t.nbytes(),
               "read_npy '{}': shape {} {} needs {} data bytes, the file has {}", path, shape_text,
               descr, t.nbytes(), bytes.size() - data_at);
  if (t.nbytes()) std::memcpy(t.raw_data(), bytes.data() + data_at, t.nbytes());
  return t;
}

}  // namespace data
