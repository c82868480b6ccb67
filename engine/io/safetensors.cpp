#include "engine/io/safetensors.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include "engine/autograd.h"
#include "engine/io/atomic_file.h"

namespace engine::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; a big-endian host would need byte swaps");

namespace {

constexpr std::string_view kMetadataKey = "__metadata__";

struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr DTypeName kDTypeNames[] = {
    {DType::f64, "F64"}, {DType::f32, "F32"}, {DType::f16, "F16"}, {DType::bf16, "BF16"},
    {DType::i64, "I64"}, {DType::i32, "I32"}, {DType::u8, "U8"},   {DType::boolean, "BOOL"},
};

std::string supported_names() {
  std::string s;
  for (const auto& d : kDTypeNames) s += fmt::format("{}{}", s.empty() ? "" : ", ", d.name);
  return s;
}

// JSON string literal for `s` (UTF-8 passes through; quotes, backslashes and control characters
// are escaped).
std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  out += '"';
  return out;
}

const char* json_type_name(simdjson::dom::element_type t) {
  using T = simdjson::dom::element_type;
  switch (t) {
    case T::ARRAY:
      return "an array";
    case T::OBJECT:
      return "an object";
    case T::INT64:
    case T::UINT64:
      return "an integer";
    case T::DOUBLE:
      return "a floating-point number";
    case T::STRING:
      return "a string";
    case T::BOOL:
      return "a boolean";
    case T::NULL_VALUE:
      return "null";
  }
  return "an unknown JSON value";
}

// A non-negative JSON integer, or an error naming `what`.
uint64_t get_count(const simdjson::dom::element& e, const std::string& path,
                   const std::string& what) {
  using T = simdjson::dom::element_type;
  switch (e.type()) {
    case T::UINT64:
      return uint64_t(e.get_uint64().value_unsafe());
    case T::INT64: {
      int64_t v = e.get_int64().value_unsafe();
      ENGINE_CHECK(v >= 0, "safetensors '{}': {} is negative ({})", path, what, v);
      return uint64_t(v);
    }
    default:
      ENGINE_THROW("safetensors '{}': {} must be a non-negative integer, found {}{}", path, what,
                   json_type_name(e.type()),
                   e.type() == T::DOUBLE ? fmt::format(" ({})", e.get_double().value_unsafe())
                                         : std::string());
  }
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
  size_t header_index;
};

Entry parse_entry(std::string_view name, const simdjson::dom::element& value,
                  const std::string& path, size_t index) {
  Entry entry{std::string(name), DType::f32, {}, 0, 0, index};
  const std::string where = fmt::format("tensor '{}'", name);
  simdjson::dom::object obj;
  ENGINE_CHECK(value.get_object().get(obj) == simdjson::SUCCESS,
               "safetensors '{}': {} must be a JSON object with dtype, shape and data_offsets, "
               "found {}",
               path, where, json_type_name(value.type()));
  bool has_dtype = false, has_shape = false, has_offsets = false;
  for (auto field : obj) {
    std::string_view key = field.key;
    if (key == "dtype") {
      ENGINE_CHECK(!has_dtype, "safetensors '{}': {} has two dtype fields", path, where);
      has_dtype = true;
      std::string_view s;
      ENGINE_CHECK(field.value.get_string().get(s) == simdjson::SUCCESS,
                   "safetensors '{}': {} dtype must be a string, found {}", path, where,
                   json_type_name(field.value.type()));
      auto dt = dtype_from_safetensors_name(s);
      ENGINE_CHECK(dt.has_value(),
                   "safetensors '{}': {} has unknown or unsupported dtype '{}' "
                   "(supported: {})",
                   path, where, s, supported_names());
      entry.dtype = *dt;
    } else if (key == "shape") {
      ENGINE_CHECK(!has_shape, "safetensors '{}': {} has two shape fields", path, where);
      has_shape = true;
      simdjson::dom::array arr;
      ENGINE_CHECK(field.value.get_array().get(arr) == simdjson::SUCCESS,
                   "safetensors '{}': {} shape must be an array, found {}", path, where,
                   json_type_name(field.value.type()));
      ENGINE_CHECK(arr.size() <= size_t(kMaxDims),
                   "safetensors '{}': {} has {} dims, more than the engine's maximum of {}", path,
                   where, arr.size(), kMaxDims);
      size_t d = 0;
      for (simdjson::dom::element e : arr) {
        uint64_t v = get_count(e, path, fmt::format("{} shape[{}]", where, d++));
        ENGINE_CHECK(v <= uint64_t(std::numeric_limits<int64_t>::max()),
                     "safetensors '{}': {} shape entry {} is too large", path, where, v);
        entry.shape.push_back(int64_t(v));
      }
    } else if (key == "data_offsets") {
      ENGINE_CHECK(!has_offsets, "safetensors '{}': {} has two data_offsets fields", path, where);
      has_offsets = true;
      simdjson::dom::array arr;
      ENGINE_CHECK(field.value.get_array().get(arr) == simdjson::SUCCESS && arr.size() == 2,
                   "safetensors '{}': {} data_offsets must be an array [begin, end], found {}",
                   path, where, simdjson::to_string(field.value));
      entry.begin = get_count(arr.at(0).value_unsafe(), path, where + " data_offsets begin");
      entry.end = get_count(arr.at(1).value_unsafe(), path, where + " data_offsets end");
    } else {
      ENGINE_THROW(
          "safetensors '{}': {} has unexpected field '{}' (expected dtype, shape, "
          "data_offsets)",
          path, where, key);
    }
  }
  ENGINE_CHECK(has_dtype, "safetensors '{}': {} has no dtype", path, where);
  ENGINE_CHECK(has_shape, "safetensors '{}': {} has no shape", path, where);
  ENGINE_CHECK(has_offsets, "safetensors '{}': {} has no data_offsets", path, where);
  return entry;
}

// The byte count of `shape` x `dtype`, refusing products that overflow.
uint64_t checked_nbytes(const Entry& e, const std::string& path) {
  uint64_t n = dtype_size(e.dtype);
  for (int64_t s : e.shape) {
    if (s != 0 && n > std::numeric_limits<uint64_t>::max() / uint64_t(s))
      ENGINE_THROW("safetensors '{}': tensor '{}' shape {} is too large", path, e.name,
                   shape_str(e.shape));
    n *= uint64_t(s);
  }
  return n;
}

void pread_all(int fd, void* dst, size_t nbytes, uint64_t offset, const std::string& path,
               const std::string& what) {
  char* p = static_cast<char*>(dst);
  while (nbytes > 0) {
    ssize_t n = ::pread(fd, p, nbytes, off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    ENGINE_CHECK(n > 0, "safetensors '{}': reading {} failed: {}", path, what,
                 n < 0 ? std::string(std::strerror(errno)) : std::string("unexpected end of file"));
    p += n;
    offset += uint64_t(n);
    nbytes -= size_t(n);
  }
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

const char* safetensors_dtype_name(DType dtype) {
  for (const auto& d : kDTypeNames)
    if (d.dtype == dtype) return d.name;
  ENGINE_THROW("safetensors: dtype {} has no safetensors name", dtype_name(dtype));
}

std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
  for (const auto& d : kDTypeNames)
    if (name == d.name) return d.dtype;
  return std::nullopt;
}

bool SafetensorsFile::contains(std::string_view name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return true;
  return false;
}

const Tensor& SafetensorsFile::at(std::string_view name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  ENGINE_THROW("safetensors '{}': no tensor named '{}'; the file holds {} tensor(s): {}", path,
               name, tensors.size(), fmt::join(names(), ", "));
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors.size());
  for (const auto& [n, t] : tensors) out.push_back(n);
  return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Everything that can be refused is checked before the temporary file exists.
  std::set<std::string_view> seen;
  std::string header = "{";
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    ENGINE_CHECK(!name.empty(), "save_safetensors '{}': a tensor has an empty name", path);
    ENGINE_CHECK(name != kMetadataKey,
                 "save_safetensors '{}': '{}' is reserved for metadata, not a tensor name", path,
                 name);
    ENGINE_CHECK(seen.insert(name).second, "save_safetensors '{}': duplicate tensor name '{}'",
                 path, name);
    ENGINE_CHECK(t.defined(), "save_safetensors '{}': tensor '{}' is undefined", path, name);
    uint64_t nbytes = t.nbytes();
    header += fmt::format("{}{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                          header.size() > 1 ? "," : "", json_quote(name),
                          safetensors_dtype_name(t.dtype()), fmt::join(t.shape(), ","), offset,
                          offset + nbytes);
    offset += nbytes;
  }
  if (!metadata.empty()) {
    header += fmt::format("{}\"__metadata__\":{{", header.size() > 1 ? "," : "");
    bool first = true;
    for (const auto& [k, v] : metadata) {
      header += fmt::format("{}{}:{}", first ? "" : ",", json_quote(k), json_quote(v));
      first = false;
    }
    header += "}";
  }
  header += "}";
  // Pad with spaces (valid JSON whitespace) so that the buffer starts 8-byte aligned, as the
  // reference implementation does; memory-mapping readers rely on it.
  header.append((8 - header.size() % 8) % 8, ' ');

  AtomicFile file(path);
  uint64_t n = header.size();
  file.write(&n, sizeof(n));
  file.write(header);
  autograd::NoGradGuard no_grad;
  for (const auto& [name, t] : tensors) {
    if (t.numel() == 0) continue;
    Tensor c = t.detach();
    if (!c.device().is_cpu()) c = c.cpu();
    c = c.contiguous();
    file.write(c.raw_data(), c.nbytes());
  }
  ENGINE_CHECK(file.size() == 8 + n + offset, "save_safetensors '{}': wrote {} bytes, expected {}",
               path, file.size(), 8 + n + offset);
  file.commit();
}

SafetensorsFile load_safetensors(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ENGINE_CHECK(fd.get() >= 0, "safetensors '{}': cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  ENGINE_CHECK(::fstat(fd.get(), &st) == 0, "safetensors '{}': cannot stat: {}", path,
               std::strerror(errno));
  ENGINE_CHECK(S_ISREG(st.st_mode), "safetensors '{}': not a regular file", path);
  const uint64_t file_size = uint64_t(st.st_size);
  ENGINE_CHECK(file_size >= 8,
               "safetensors '{}': file has {} bytes, shorter than the 8-byte header length "
               "field",
               path, file_size);
  uint64_t header_len = 0;
  pread_all(fd.get(), &header_len, 8, 0, path, "the header length");
  ENGINE_CHECK(header_len <= file_size - 8,
               "safetensors '{}': header length {} is larger than the {} bytes after the length "
               "field",
               path, header_len, file_size - 8);
  const uint64_t buffer_size = file_size - 8 - header_len;

  std::string header(header_len, '\0');
  pread_all(fd.get(), header.data(), header.size(), 8, path, "the header");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(header.data(), header.size()).get(root);
  ENGINE_CHECK(err == simdjson::SUCCESS, "safetensors '{}': header is not valid JSON: {}", path,
               simdjson::error_message(err));
  simdjson::dom::object obj;
  ENGINE_CHECK(root.get_object().get(obj) == simdjson::SUCCESS,
               "safetensors '{}': header must be a JSON object, found {}", path,
               json_type_name(root.type()));

  SafetensorsFile result;
  result.path = path;
  std::vector<Entry> entries;
  std::set<std::string_view> names;
  bool has_metadata = false;
  for (auto field : obj) {
    if (field.key == kMetadataKey) {
      ENGINE_CHECK(!has_metadata, "safetensors '{}': header has two __metadata__ fields", path);
      has_metadata = true;
      simdjson::dom::object meta;
      ENGINE_CHECK(field.value.get_object().get(meta) == simdjson::SUCCESS,
                   "safetensors '{}': __metadata__ must be an object of strings, found {}", path,
                   json_type_name(field.value.type()));
      for (auto kv : meta) {
        std::string_view v;
        ENGINE_CHECK(kv.value.get_string().get(v) == simdjson::SUCCESS,
                     "safetensors '{}': __metadata__ value of '{}' must be a string, found {}",
                     path, kv.key, json_type_name(kv.value.type()));
        ENGINE_CHECK(result.metadata.emplace(std::string(kv.key), std::string(v)).second,
                     "safetensors '{}': duplicate __metadata__ key '{}'", path, kv.key);
      }
      continue;
    }
    ENGINE_CHECK(names.insert(field.key).second, "safetensors '{}': duplicate tensor name '{}'",
                 path, field.key);
    entries.push_back(parse_entry(field.key, field.value, path, entries.size()));
  }

  for (const Entry& e : entries) {
    ENGINE_CHECK(e.begin <= e.end,
                 "safetensors '{}': tensor '{}' data_offsets [{}, {}] are out of order", path,
                 e.name, e.begin, e.end);
    ENGINE_CHECK(e.end <= buffer_size,
                 "safetensors '{}': tensor '{}' data_offsets [{}, {}] run past the end of the "
                 "{}-byte data buffer",
                 path, e.name, e.begin, e.end, buffer_size);
    uint64_t expect = checked_nbytes(e, path);
    ENGINE_CHECK(e.end - e.begin == expect,
                 "safetensors '{}': tensor '{}' ({} {}) needs {} bytes but data_offsets [{}, {}] "
                 "cover {}",
                 path, e.name, safetensors_dtype_name(e.dtype), shape_str(e.shape), expect, e.begin,
                 e.end, e.end - e.begin);
  }
  // Buffer order; empty tensors sit at their offset before a tensor starting there.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.header_index) < std::tie(b.begin, b.end, b.header_index);
  });
  uint64_t pos = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    ENGINE_CHECK(e.begin >= pos,
                 "safetensors '{}': tensor '{}' data_offsets [{}, {}] overlap tensor '{}' [{}, {}]",
                 path, e.name, e.begin, e.end, prev ? prev->name : "", prev ? prev->begin : 0,
                 prev ? prev->end : 0);
    ENGINE_CHECK(e.begin == pos,
                 "safetensors '{}': gap of {} unused bytes in the data buffer before tensor '{}' "
                 "at offset {}",
                 path, e.begin - pos, e.name, e.begin);
    pos = e.end;
    if (e.end > e.begin) prev = &e;
  }
  ENGINE_CHECK(pos == buffer_size,
               "safetensors '{}': data buffer has {} bytes but the tensors cover {} ({} trailing "
               "bytes)",
               path, buffer_size, pos, buffer_size - pos);

  const uint64_t data_start = 8 + header_len;
  result.tensors.reserve(entries.size());
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (t.nbytes() > 0)
      pread_all(fd.get(), t.raw_data(), t.nbytes(), data_start + e.begin, path,
                fmt::format("tensor '{}'", e.name));
    if (e.dtype == DType::boolean) {
      // Any byte other than 0 or 1 is not a valid C++ bool.
      const auto* b = static_cast<const uint8_t*>(t.raw_data());
      for (int64_t i = 0; i < t.numel(); ++i)
        ENGINE_CHECK(b[i] <= 1, "safetensors '{}': BOOL tensor '{}' element {} has byte value {}",
                     path, e.name, i, b[i]);
    }
    result.tensors.emplace_back(e.name, std::move(t));
  }
  return result;
}

}  // namespace engine::io
