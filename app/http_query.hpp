// GET /v1/readings (http_session.hpp): the store's merge runs on a thread of its own and hands
// the answer over as framed chunks through a QueryJob, a queue of at most kMaxFrames: memory
// stays bounded, and a client that stops reading only stops that thread (each chunk write has
// http_request_timeout_ms), never a server thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

namespace meterd::app::http_internal {

class QueryJob {
 public:
  static constexpr std::size_t kMaxFrames = 4;

  // Producer side: waits while the queue is full; false when the session has gone.
  bool push(std::string frame);
  // Producer side: the last frame is in (ok), or the merge failed and the body must be cut.
  void finish(bool ok);
  // Session side: stops the producer at its next push.
  void cancel();

  enum class Next { frame, wait, done, failed };
  // Session side: takes the next frame into `frame`; `wait` means the producer calls `wake`
  // once there is more.
  Next take(std::string& frame);

  std::function<void()> wake;  // set before the producer starts; posts to the session's strand

 private:
  std::mutex mutex_;
  std::condition_variable room_;
  std::deque<std::string> frames_;
  bool done_ = false, cancelled_ = false, waiting_ = false, failed_ = false;
};

}  // namespace meterd::app::http_internal
