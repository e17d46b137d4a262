// The push side of protocol/input_reader.hpp: the same walk over every member of an input
// (layers, limits, names and messages are all InputReader's), handed to a visitor as it streams.
// For callers that take an input in one go (`meterd parse`, the HTTP server); a caller that must
// stop between chunks pulls from an InputReader instead.
//
// The push functions hash nothing, and report a failure of the source (a failed read(2)) like
// a content error that stops the input: on_error on the member it cut short, or on the input.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "protocol/input_reader.hpp"

namespace meterd {

// Call order for each member: on_member, on_chunk*, then exactly one of on_member_end (complete)
// or on_error (the member is incomplete: discard or mark it). on_error is also called, without a
// preceding on_member, for members that are never started: unsafe name, too deep, unreadable
// archive. Exceptions thrown by the visitor propagate out of read_input unchanged.
class InputVisitor {
 public:
  virtual ~InputVisitor() = default;
  virtual void on_member(const InputMember& member) = 0;
  // The view is valid only during the call: the buffer is reused for the next chunk.
  virtual void on_chunk(std::string_view bytes) = 0;
  virtual void on_member_end() = 0;
  // `member` is the member (or container) affected; `message` names the file or member at fault
  // and says what went wrong.
  virtual void on_error(const std::string& member, const std::string& message) = 0;
};

InputResult read_input(const std::filesystem::path& path, InputVisitor& visitor,
                       const InputLimits& limits = {});

// Same, for bytes already in memory (an HTTP body, say). `name` names the input in members and
// messages. The bytes must stay valid for the duration of the call.
InputResult read_input_buffer(std::string_view name, std::string_view bytes, InputVisitor& visitor,
                              const InputLimits& limits = {});

// Pushes what is left of `reader` to `visitor`, in chunks of reader.limits().chunk_bytes. A
// failure of the source is reported or thrown as the reader's options say.
InputResult visit_input(InputReader& reader, InputVisitor& visitor);

}  // namespace meterd
