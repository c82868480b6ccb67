// Crash-safe file replacement (DESIGN.md "Modules and weights": writes go to a temporary file,
// then rename). The bytes go to a fresh temporary file in the destination's directory; commit()
// flushes it to disk (fsync), renames it over the destination and syncs the directory, so a
// reader sees either the complete old file or the complete new one, never a mix. Dropping an
// AtomicFile without commit() (an exception while writing) deletes the temporary file and leaves
// the destination untouched.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace engine::io {

class AtomicFile {
 public:
  // Creates the temporary file "<path>.tmp.<pid>.<n>" next to `path`; throws engine::Error
  // naming `path` when the directory is missing or not writable.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes (retrying short writes); throws engine::Error on failure.
  void write(const void* data, size_t nbytes);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // Makes the file durable and visible under `path`. At most once; no write() afterwards.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  // Bytes written so far.
  size_t size() const { return written_; }

 private:
  void discard() noexcept;

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  size_t written_ = 0;
  bool committed_ = false;
};

// Replaces `path` with `bytes` atomically (see AtomicFile).
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace engine::io
