#include "app/http_uploads.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>
#include <vector>

namespace meterd::app {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

std::uint64_t free_bytes(const fs::path& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) fail("statvfs " + path.string());
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

SpoolFile::SpoolFile(fs::path path, bool append, bool hash)
    : path_(std::move(path)), hashing_(hash) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
  if (fd_ < 0) fail("open " + path_.string());
}

SpoolFile::~SpoolFile() {
  close();
  if (!keep_) ::unlink(path_.c_str());
}

void SpoolFile::write(std::string_view bytes) {
  if (hashing_) hash_.update(bytes);
  written_ += bytes.size();
  while (!bytes.empty()) {
    const auto n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write " + path_.string());
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void SpoolFile::sync() {
  if (::fdatasync(fd_) != 0) fail("fdatasync " + path_.string());
}

void SpoolFile::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Uploads::Uploads(const fs::path& spool_dir, unsigned expire_hours) : dir_(spool_dir / "uploads") {
  fs::create_directories(dir_);
  const auto too_old = fs::file_time_type::clock::now() - std::chrono::hours(expire_hours);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec))
    if (e.path().extension() == ".part" && e.last_write_time(ec) < too_old)
      fs::remove(e.path(), ec);
}

bool Uploads::valid_id(std::string_view id) {
  return id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

fs::path Uploads::part_path(const std::string& id) const {
  return dir_ / (id + ".part");
}

std::uint64_t Uploads::received(const std::string& id) const {
  struct stat st {};
  if (::stat(part_path(id).c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_size);
}

bool Uploads::claim(const std::string& id) {
  std::lock_guard lock(mutex_);
  return writing_.insert(id).second;
}

void Uploads::release(const std::string& id) {
  std::lock_guard lock(mutex_);
  writing_.erase(id);
}

bool Uploads::hashes_to(const fs::path& path, const std::string& id) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open " + path.string());
  Sha256 hash;
  std::vector<char> buffer(1u << 20);
  for (;;) {
    const auto n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      throw std::system_error(error, std::generic_category(), "read " + path.string());
    }
    if (n == 0) break;
    hash.update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  }
  ::close(fd);
  return hash.hex_digest() == id;
}

}  // namespace meterd::app
