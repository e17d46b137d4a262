// Request body buffers kept for the next request instead of freed. An allocator gives freed
// multi-MiB buffers back to the OS (the daemon's at once, app/main.cpp; mimalloc's default after
// 25 ms), so a new body faults in every page again: a third of the central's page faults at one
// reading per NDJSON line, and half of `meterd forward`'s CPU. A few buffers kept here, up to a
// bound in bytes, are reused warm.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace meterd::app {

class BodyPool {
 public:
  explicit BodyPool(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // An empty string with capacity for `bytes` if a kept one has it (else a new empty one).
  std::string take(std::size_t bytes) {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < kept_.size(); ++i) {
      if (kept_[i].capacity() < bytes) continue;
      std::string out = std::move(kept_[i]);
      kept_[i] = std::move(kept_.back());
      kept_.pop_back();
      kept_bytes_ -= out.capacity();
      return out;
    }
    return {};
  }

  // Keeps `body`'s buffer if it fits under the bound, else frees it.
  void give(std::string&& body) {
    body.clear();
    std::lock_guard lock(mutex_);
    if (body.capacity() == 0 || kept_bytes_ + body.capacity() > max_bytes_) return;
    kept_bytes_ += body.capacity();
    kept_.push_back(std::move(body));
  }

  std::size_t kept_bytes() const {
    std::lock_guard lock(mutex_);
    return kept_bytes_;
  }

 private:
  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::vector<std::string> kept_;
  std::size_t kept_bytes_ = 0;
};

}  // namespace meterd::app
