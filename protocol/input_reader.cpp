#include "protocol/input_reader.hpp"

#include <exception>
#include <system_error>
#include <vector>

#include "protocol/input_byte_wrappers.hpp"
#include "protocol/input_expansion.hpp"
#include "protocol/input_layers.hpp"

namespace meterd {
namespace {

// next() reads through an abandoned member in pieces of this size.
constexpr std::size_t kSkipBufferBytes = 64 * 1024;

}  // namespace

// The walk of one input, depth-first, as an explicit stack of layers. It behaves as a recursive
// walk would, one that had a try block around each zip member (the error is that member's, the
// archive goes on) and one around the whole input; unwind() plays those handlers.
class InputReader::Walk {
 public:
  Walk(std::string name, const InputLimits& limits, const InputReadOptions& options)
      : input_name_(std::move(name)), limits_(limits), options_(options) {}

  ~Walk() { tear_down(); }

  void open(std::unique_ptr<ByteSource> raw) {
    raw_ = std::move(raw);
    if (options_.hash_content) hashing_ = std::make_unique<HashingByteSource>(*raw_);
    counted_ = std::make_unique<CountingByteSource>(hashing_ ? *hashing_ : *raw_, result_.bytes_in);
    result_.opened = true;
  }
  void fail_to_open(const std::string& why) {
    result_.error = why;
    ended_ = true;
  }

  Event next() {
    if (failure_) std::rethrow_exception(failure_);
    if (leaf_ && !leaf_at_end_) {
      // Abandoned before its end: read through the rest, so that the walk (limits, hash) is the
      // same whether or not the caller wanted the bytes.
      if (skip_buffer_.empty()) skip_buffer_.resize(kSkipBufferBytes);
      while (read_member(skip_buffer_.data(), skip_buffer_.size()) > 0) {
      }
      if (!member_error_.empty()) return error_event(member_.name, member_error_);
    }
    leaf_.reset();
    try {
      return advance();
    } catch (const std::system_error& e) {
      return source_failed(e).value_or(Event{});
    } catch (...) {
      abandon();
    }
  }

  std::size_t read(char* out, std::size_t size) {
    const std::size_t got = read_member(out, size);
    result_.bytes_out += got;
    return got;
  }

  const std::string& member_error() const { return member_error_; }
  const InputResult& result() const { return result_; }
  const InputLimits& limits() const { return limits_; }

  std::string content_hash() { return hashing_ ? hashing_->finish() : std::string(); }

  std::optional<InputFingerprint> fingerprint() {
    if (!raw_ || !raw_->can_seek()) return std::nullopt;
    return fingerprint_of(*raw_);
  }

 private:
  // Goes down the stack until a member starts, an error is to be reported, or the input ends.
  Event advance() {
    while (!ended_) {
      try {
        if (!started_) {
          started_ = true;
          if (enter(input_name_, *counted_, 0)) return member_event();
          continue;
        }
        if (layers_.empty()) {
          ended_ = true;
          break;
        }
        InputLayer& top = *layers_.back();
        std::string name;
        ByteSource* inner = top.next_inner(name);
        if (inner == nullptr) {
          layers_.pop_back();
          continue;
        }
        if (enter(name, *inner, top.depth())) return member_event();
      } catch (InputError& e) {
        if (auto event = unwind(e)) return *std::move(event);
      }
    }
    return Event{};
  }

  // Sniffs `source`: a member to read (true), or a container, now on top of the stack (false).
  bool enter(const std::string& name, ByteSource& source, unsigned depth) {
    auto sniffed = std::make_unique<SniffedByteSource>(source);
    const InputKind kind = sniffed->kind();
    if (depth == 0) outer_kind_ = kind;
    if (kind == InputKind::plain) {
      start_member(name, std::move(sniffed), depth);
      return true;
    }
    if (depth >= limits_.max_nesting)
      throw InputError(name + ": " + to_string(kind) + " nested " + std::to_string(depth + 1) +
                       " containers deep, over the limit of " +
                       std::to_string(limits_.max_nesting));
    layers_.push_back(open_input_layer(kind, name, std::move(sniffed), depth + 1, budget_));
    return false;
  }

  void start_member(const std::string& name, std::unique_ptr<SniffedByteSource> bytes,
                    unsigned depth) {
    if (result_.members >= limits_.max_members)
      throw InputError(name + ": " + input_name_ + " has more than " +
                           std::to_string(limits_.max_members) +
                           " members, the limit; the rest of the input is not read",
                       true);
    leaf_ = std::move(bytes);
    leaf_at_end_ = false;
    member_ = InputMember{name, outer_kind_, depth};
    member_error_.clear();
    ++result_.members;
  }

  Event member_event() const {
    Event event;
    event.kind = Event::Kind::member;
    event.member = member_;
    return event;
  }

  static Event error_event(const std::string& where, const std::string& message) {
    Event event;
    event.kind = Event::Kind::error;
    event.where = where;
    event.message = message;
    return event;
  }

  std::size_t read_member(char* out, std::size_t size) {
    if (failure_) std::rethrow_exception(failure_);
    if (!leaf_ || leaf_at_end_ || size == 0) return 0;
    try {
      const std::size_t got = read_fully(*leaf_, out, size);
      // A short read is the end: the source is not asked again (as the push API never did).
      if (got < size) leaf_at_end_ = true;
      return got;
    } catch (InputError& e) {
      unwind(e);
    } catch (const std::system_error& e) {
      source_failed(e);
    } catch (...) {
      abandon();
    }
    return 0;  // the bytes of a chunk that broke off are dropped, as the push API always did
  }

  // Handles `e` where a recursive walk's handlers would have: the innermost archive with a
  // member open takes it, so everything above that archive is gone, and the archive goes on with
  // its next member. An error that stops the input, or that no archive takes, ends the walk.
  // The error itself is reported once, on the member being read if there is one: returned as an
  // event otherwise.
  std::optional<Event> unwind(InputError& e) {
    std::size_t keep = layers_.size();
    while (keep > 0 && !layers_[keep - 1]->member_open()) --keep;
    const std::string where = keep > 0 ? layers_[keep - 1]->member_name() : input_name_;
    const bool on_member = leaf_ != nullptr;
    leaf_.reset();
    if (e.stops_input() || keep == 0) {
      keep = 0;
      ended_ = true;
    }
    while (layers_.size() > keep) layers_.pop_back();
    if (keep > 0) layers_.back()->close_member();
    if (e.reported) return std::nullopt;
    e.reported = true;
    ++result_.errors;
    if (on_member) {
      member_error_ = e.what();
      return std::nullopt;
    }
    return error_event(where, e.what());
  }

  // The source failed (std::system_error): thrown on, or, if the options say so, reported like
  // a content error that stops the input. Only from a handler.
  std::optional<Event> source_failed(const std::system_error& e) {
    if (!options_.report_source_failures) abandon();
    InputError stop(e.what(), true);
    return unwind(stop);
  }

  // The source failed: the walk cannot go on (its layers are in whatever state the failure left
  // them). The failure goes to the caller now and on every later call. Only from a handler.
  [[noreturn]] void abandon() {
    failure_ = std::current_exception();
    tear_down();
    ended_ = true;
    throw;
  }

  // Innermost first: each layer reads from the one below it.
  void tear_down() {
    leaf_.reset();
    while (!layers_.empty()) layers_.pop_back();
  }

  const std::string input_name_;
  const InputLimits limits_;
  const InputReadOptions options_;
  InputResult result_;
  std::unique_ptr<ByteSource> raw_;
  std::unique_ptr<HashingByteSource> hashing_;
  std::unique_ptr<CountingByteSource> counted_;
  ExpansionBudget budget_{limits_, input_name_, result_.bytes_in};
  std::vector<std::unique_ptr<InputLayer>> layers_;
  std::unique_ptr<SniffedByteSource> leaf_;  // the member being read
  bool leaf_at_end_ = false;
  InputMember member_;
  std::string member_error_;
  InputKind outer_kind_ = InputKind::plain;
  bool started_ = false, ended_ = false;
  std::exception_ptr failure_;
  std::vector<char> skip_buffer_;
};

InputReader::InputReader(const std::filesystem::path& path, const InputLimits& limits,
                         const InputReadOptions& options)
    : walk_(std::make_unique<Walk>(path.string(), limits, options)) {
  std::unique_ptr<ByteSource> file;
  try {
    file = std::make_unique<FileByteSource>(path);
  } catch (const InputError& e) {
    walk_->fail_to_open(e.what());
    return;
  }
  walk_->open(std::move(file));
}

InputReader::InputReader(std::string name, std::string_view bytes, const InputLimits& limits,
                         const InputReadOptions& options)
    : InputReader(std::move(name), std::make_unique<BufferByteSource>(bytes), limits, options) {}

InputReader::InputReader(std::string name, std::unique_ptr<ByteSource> raw,
                         const InputLimits& limits, const InputReadOptions& options)
    : walk_(std::make_unique<Walk>(std::move(name), limits, options)) {
  if (raw)
    walk_->open(std::move(raw));
  else
    walk_->fail_to_open("internal error: no source to read");
}

InputReader::~InputReader() = default;
InputReader::InputReader(InputReader&&) noexcept = default;
InputReader& InputReader::operator=(InputReader&&) noexcept = default;

bool InputReader::opened() const {
  return walk_->result().opened;
}
const std::string& InputReader::error() const {
  return walk_->result().error;
}
InputReader::Event InputReader::next() {
  return walk_->next();
}
std::size_t InputReader::read(char* out, std::size_t size) {
  return walk_->read(out, size);
}
const std::string& InputReader::member_error() const {
  return walk_->member_error();
}
const InputResult& InputReader::result() const {
  return walk_->result();
}
const InputLimits& InputReader::limits() const {
  return walk_->limits();
}
std::string InputReader::content_hash() {
  return walk_->content_hash();
}
std::optional<InputFingerprint> InputReader::fingerprint() {
  return walk_->fingerprint();
}

}  // namespace meterd
