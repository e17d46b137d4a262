#include "actors/input_chunks.hpp"

#include "protocol/input_sniff.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <system_error>

namespace meterd::actors {
namespace {

class PlainFile final : public InputChunks {
 public:
  explicit PlainFile(const std::filesystem::path& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
    // Read once, front to back: let the kernel read ahead and drop pages behind us.
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  ~PlainFile() override { ::close(fd_); }
  void rewind() {
    if (::lseek(fd_, 0, SEEK_SET) != 0)
      throw std::system_error(errno, std::generic_category(), "lseek");
  }
  std::size_t read(char* buffer, std::size_t capacity) override {
    std::size_t got = 0;
    while (got < capacity) {
      ssize_t n = ::read(fd_, buffer + got, capacity - got);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::system_error(errno, std::generic_category(), "read");
      }
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    return got;
  }

 private:
  int fd_ = -1;
};

}  // namespace

namespace {
std::mutex g_opener_mutex;
InputOpener g_opener;
}  // namespace

std::unique_ptr<InputChunks> open_raw_input(const std::filesystem::path& path) {
  return std::make_unique<PlainFile>(path);
}

std::unique_ptr<InputChunks> open_default_input(const std::filesystem::path& path) {
  auto plain = std::make_unique<PlainFile>(path);  // throws if it cannot be opened
  char head[kSniffBytes];
  std::size_t n = plain->read(head, sizeof head);
  if (sniff_input_kind(std::string_view(head, n)) == InputKind::plain) {
    plain->rewind();
    return plain;
  }
  plain.reset();
  return open_archive_input(path);
}

void set_input_opener(InputOpener opener) {
  std::lock_guard lock(g_opener_mutex);
  g_opener = std::move(opener);
}

std::unique_ptr<InputChunks> open_input(const std::filesystem::path& path) {
  InputOpener opener;
  {
    std::lock_guard lock(g_opener_mutex);
    opener = g_opener;
  }
  return opener ? opener(path) : open_default_input(path);
}

}  // namespace meterd::actors
