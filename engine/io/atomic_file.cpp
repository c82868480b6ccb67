#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "engine/error.h"

namespace engine::io {
namespace {

std::string errno_str(int err) {
  return std::strerror(err);
}

std::string parent_dir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Distinguishes concurrent writers of the same path within one process (threads); the pid
// distinguishes processes.
std::atomic<uint64_t> g_temp_counter{0};

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  ENGINE_CHECK(!path_.empty(), "atomic write: empty destination path");
  ENGINE_CHECK(path_.back() != '/', "atomic write: destination '{}' names a directory", path_);
  temp_path_ = fmt::format("{}.tmp.{}.{}", path_, ::getpid(), g_temp_counter.fetch_add(1));
  // O_EXCL: never reuse (and truncate) a file somebody else is writing. Mode 0666 lets the umask
  // decide the final permissions, as for any ordinarily created file.
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  ENGINE_CHECK(fd_ >= 0, "cannot write '{}': creating the temporary file '{}' failed: {}", path_,
               temp_path_, errno_str(errno));
}

AtomicFile::~AtomicFile() {
  if (!committed_) discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFile::write(const void* data, size_t nbytes) {
  ENGINE_CHECK(fd_ >= 0 && !committed_, "cannot write '{}': the file is already committed", path_);
  const char* p = static_cast<const char*>(data);
  while (nbytes > 0) {
    ssize_t n = ::write(fd_, p, nbytes);
    if (n < 0 && errno == EINTR) continue;
    ENGINE_CHECK(n > 0, "cannot write '{}': writing {} bytes to '{}' failed: {}", path_, nbytes,
                 temp_path_, n < 0 ? errno_str(errno) : std::string("no progress"));
    p += n;
    nbytes -= size_t(n);
    written_ += size_t(n);
  }
}

void AtomicFile::commit() {
  ENGINE_CHECK(fd_ >= 0 && !committed_, "cannot commit '{}' twice", path_);
  // Data must be on disk before the rename makes it visible, or a crash could leave the new
  // name pointing at a file with missing blocks.
  ENGINE_CHECK(::fsync(fd_) == 0, "cannot write '{}': fsync of '{}' failed: {}", path_, temp_path_,
               errno_str(errno));
  int rc = ::close(fd_);
  fd_ = -1;
  ENGINE_CHECK(rc == 0, "cannot write '{}': closing '{}' failed: {}", path_, temp_path_,
               errno_str(errno));
  ENGINE_CHECK(::rename(temp_path_.c_str(), path_.c_str()) == 0,
               "cannot write '{}': renaming '{}' over it failed: {}", path_, temp_path_,
               errno_str(errno));
  committed_ = true;
  // The rename itself lives in the directory; sync it so it survives a crash. Some file systems
  // refuse fsync on directories; the data is already safe then, so that is not an error.
  int dfd = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

}  // namespace engine::io
