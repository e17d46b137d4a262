#include "app/dir_watch.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace meterd::app {

DirWatch::DirWatch(const std::vector<std::filesystem::path>& dirs)
    : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
  if (fd_ < 0) throw std::runtime_error(std::string("inotify_init1: ") + std::strerror(errno));
  for (const auto& d : dirs) {
    const int wd = ::inotify_add_watch(fd_, d.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR);
    if (wd < 0) {
      const int err = errno;
      ::close(fd_);
      throw std::runtime_error("cannot watch " + d.string() + ": " + std::strerror(err));
    }
    dirs_[wd] = d;
  }
}

DirWatch::~DirWatch() {
  ::close(fd_);
}

std::vector<std::filesystem::path> DirWatch::wait(std::chrono::milliseconds timeout,
                                                  bool& overflowed) {
  std::vector<std::filesystem::path> files;
  if (timeout.count() > 0) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return files;
  }
  alignas(inotify_event) char buf[64 * 1024];
  // The descriptor does not block: read until the queue is empty.
  for (ssize_t n; (n = ::read(fd_, buf, sizeof buf)) > 0;) {
    for (ssize_t at = 0; at < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      if (e->mask & IN_Q_OVERFLOW) overflowed = true;
      if (e->len == 0 || (e->mask & IN_ISDIR)) continue;
      if (auto d = dirs_.find(e->wd); d != dirs_.end()) files.push_back(d->second / e->name);
    }
  }
  return files;
}

}  // namespace meterd::app
