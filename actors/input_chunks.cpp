#include "actors/input_chunks.hpp"

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

std::unique_ptr<InputChunks> open_plain_input(const std::filesystem::path& path) {
  return std::make_unique<PlainFile>(path);
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
  return opener ? opener(path) : open_plain_input(path);
}

}  // namespace meterd::actors
