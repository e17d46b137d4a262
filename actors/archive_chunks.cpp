// Compressed and archived inputs for the reader actor: protocol's read_input() pushes members
// and chunks to a visitor, the reader actor pulls chunks between credit checks. A helper
// thread runs read_input() and a queue of at most two chunks joins the two, so memory stays
// bounded and the producer simply blocks while the reader has no credit.
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

#include "actors/input_chunks.hpp"
#include "protocol/input_source.hpp"

namespace meterd::actors {
namespace {

struct Event {
  enum Kind { member, data, member_end, error, done } kind;
  std::string text;  // member name, chunk bytes or error message
};

struct Cancelled {};  // thrown through read_input() when the reader goes away

class ArchiveChunks final : public InputChunks, private InputVisitor {
 public:
  explicit ArchiveChunks(const std::filesystem::path& path) {
    producer_ = std::thread([this, path] {
      InputResult result;
      try {
        result = read_input(path, *this);
      } catch (const Cancelled&) {
        return;
      } catch (const std::exception& e) {
        result.opened = false;
        result.error = e.what();
      }
      push({Event::done, result.opened ? std::string() : result.error});
    });
    // Wait for the first member (or for the input to fail to open), so that an unreadable
    // input is reported by open_input like a missing plain file.
    Event first = pop();
    if (first.kind == Event::member) {
      name_ = std::move(first.text);
      in_member_ = true;
      return;
    }
    std::string why;
    while (first.kind != Event::done && first.kind != Event::member) {
      if (first.kind == Event::error) why = first.text;  // a member that never started
      first = pop();
    }
    if (first.kind == Event::member) {
      name_ = std::move(first.text);
      in_member_ = true;
      return;
    }
    if (!first.text.empty()) why = first.text;
    if (why.empty()) why = "no readable member";
    finished_ = true;
    producer_.join();  // the destructor does not run for an object whose constructor threw
    throw std::system_error(EIO, std::generic_category(), path.string() + ": " + why);
  }

  ~ArchiveChunks() override {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    changed_.notify_all();
    if (producer_.joinable()) producer_.join();
  }

  std::size_t read(char* buffer, std::size_t capacity) override {
    std::size_t got = 0;
    while (got < capacity && in_member_) {
      if (offset_ == current_.size()) {
        Event e = pop();
        if (e.kind == Event::data) {
          current_ = std::move(e.text);
          offset_ = 0;
          continue;
        }
        // member_end or error (a member that broke off): the member is over.
        in_member_ = false;
        error_ = e.kind == Event::error ? e.text : std::string();
        if (e.kind == Event::done) finished_ = true;
        break;
      }
      std::size_t n = std::min(capacity - got, current_.size() - offset_);
      std::memcpy(buffer + got, current_.data() + offset_, n);
      got += n, offset_ += n;
    }
    return got;
  }

  bool next_member() override {
    while (!finished_) {
      Event e = pop();
      if (e.kind == Event::member) {
        name_ = std::move(e.text);
        error_.clear();
        in_member_ = true;
        current_.clear();
        offset_ = 0;
        return true;
      }
      if (e.kind == Event::done) finished_ = true;
      // error events for members that never started: nothing to read from them
    }
    return false;
  }

  std::string member_name() const override { return name_; }
  std::string member_error() const override { return error_; }

 private:
  static constexpr std::size_t kMaxQueued = 2;

  void push(Event e) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return cancelled_ || queue_.size() < kMaxQueued; });
    if (cancelled_) throw Cancelled{};
    queue_.push_back(std::move(e));
    changed_.notify_all();
  }
  Event pop() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !queue_.empty(); });
    Event e = std::move(queue_.front());
    queue_.pop_front();
    changed_.notify_all();
    return e;
  }

  // InputVisitor, on the producer thread.
  void on_member(const InputMember& m) override { push({Event::member, m.name}); }
  void on_chunk(std::string_view bytes) override { push({Event::data, std::string(bytes)}); }
  void on_member_end() override { push({Event::member_end, {}}); }
  void on_error(const std::string& member, const std::string& message) override {
    push({Event::error, member + ": " + message});
  }

  std::thread producer_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Event> queue_;
  bool cancelled_ = false;
  // Consumer side (the reader actor's thread).
  std::string name_, error_, current_;
  std::size_t offset_ = 0;
  bool in_member_ = false, finished_ = false;
};

}  // namespace

std::unique_ptr<InputChunks> open_archive_input(const std::filesystem::path& path) {
  return std::make_unique<ArchiveChunks>(path);
}

}  // namespace meterd::actors
