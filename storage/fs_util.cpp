#include "storage/fs_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>

#include "storage/checksum.hpp"

namespace meterd::storage::fs {
namespace {
[[noreturn]] void fail(const char* op, const std::filesystem::path& p) {
  throw std::system_error(errno, std::generic_category(), std::string(op) + " " + p.string());
}
}  // namespace

int open_file(const std::filesystem::path& path, int flags, int mode) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) fail("open", path);
  return fd;
}

void close_file(int fd) {
  ::close(fd);
}

void fsync_fd(int fd, const std::filesystem::path& what) {
  if (::fsync(fd) != 0) fail("fsync", what);
}

void fsync_dir(const std::filesystem::path& dir) {
  const int fd = open_file(dir, O_RDONLY | O_DIRECTORY);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    errno = err;
    fail("fsync", dir);
  }
}

void write_all(int fd, std::string_view bytes, const std::filesystem::path& what) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", what);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void make_dirs(const std::filesystem::path& dir) {
  if (dir.empty() || std::filesystem::is_directory(dir)) return;
  std::filesystem::path parent = dir.parent_path();
  if (parent.empty()) parent = ".";  // a relative path's first component
  make_dirs(parent);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) fail("mkdir", dir);
  fsync_dir(parent);
}

void atomic_replace(const std::filesystem::path& path, std::string_view content) {
  std::string name = ".";  // hidden, and *.tmp: neither recovery nor the spool takes it for data
  name += path.filename().native();
  name += ".tmp";
  const auto tmp = path.parent_path() / name;
  const int fd = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC);
  try {
    write_all(fd, content, tmp);
    fsync_fd(fd, tmp);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());  // a full disk must not also be left holding half a file
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    errno = err;
    fail("rename", tmp);
  }
  fsync_dir(path.parent_path());
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool is_temporary_name(const std::string& name) {
  return name.size() > 4 && name[0] == '.' && name.ends_with(".tmp");
}

std::uint32_t file_crc32c(const std::filesystem::path& path) {
  const int fd = open_file(path, O_RDONLY);
  std::string buf(1 << 20, '\0');
  std::uint32_t crc = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw std::system_error(err, std::generic_category(), "read " + path.string());
    }
    if (n == 0) break;
    crc = crc32c(buf.data(), static_cast<std::size_t>(n), crc);
  }
  ::close(fd);
  return crc;
}

}  // namespace meterd::storage::fs
