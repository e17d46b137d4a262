// A bounded hand-over between threads: at most `capacity` items wait; a full queue blocks the
// producer (until a stop), an empty one the consumers (until closed).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace meterd::app {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}
  // False if `stop` was set while waiting for room (the item is not queued).
  bool push(T&& item, const std::atomic<bool>& stop) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_ || stop.load(); });
    if (stop.load()) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  // Nothing once closed and empty.
  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }
  // Lets a producer blocked on a full queue see a stop.
  void wake() { not_full_.notify_all(); }

 private:
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> items_;
  std::size_t capacity_;
  bool closed_ = false;
};

}  // namespace meterd::app
