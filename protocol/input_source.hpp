// Opening an input by its content, not its name: every logical file inside a path or buffer is
// streamed to a visitor, whatever wrapping it arrived in.
//
//   plain            → one member, named after the input
//   gzip / bzip2     → one member, decompressed (concatenated streams decode fully); if the
//                      decompressed bytes are themselves a zip/gzip/bzip2, that is opened too
//   zip              → each regular member on its own, named "outer.zip!inner.csv"; members that
//                      are archives or compressed are opened recursively ("a.zip!b.zip!c.csv")
//
// Everything is streamed through one reused chunk buffer: no input, member or archive is ever held
// whole in memory, and nested archives read straight out of their parent's member.
//
// Limits guard against hostile or broken inputs (zip bombs, path tricks, runaway nesting). A
// problem with one member is reported through on_error and processing continues with the next
// member where the container still allows it; expansion limits stop the whole input.
//
// Pure apart from reading the input: no global state, safe to call from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "protocol/input_sniff.hpp"

namespace meterd {

struct InputLimits {
  // Container layers (zip, gzip, bzip2) around one member, counting the outermost:
  // "x.csv" is 0, "x.csv.gz" 1, "a.zip!b.csv.gz" 2. A member that would go deeper is an error.
  unsigned max_nesting = 4;
  // Bytes produced by decompression, summed over every layer of the input.
  std::uint64_t max_expanded_bytes = 64ull << 30;
  // Expanded / compressed, for each decoding layer and for the whole input. Checked only once a
  // layer has produced more than ratio_floor_bytes: tiny files legitimately compress very well.
  // At 200:1 a deflate bomb (at most ~1030:1) stops within ~25 MB. Beware: all-zero meter data
  // reaches ~120:1 under gzip/zip but ~500:1 under bzip2, so such bzip2 files exceed this default.
  double max_ratio = 200.0;
  // bzip2 layers get their own limit: all-zero meter data (a vacant premises) reaches about
  // 530:1 under bzip2, against about 120:1 under deflate, so one ratio for both would either
  // refuse real files or let deflate bombs run long. The whole-input ratio uses the larger
  // limit once any bzip2 layer is involved.
  double max_ratio_bzip2 = 2000.0;
  std::uint64_t ratio_floor_bytes = 1ull << 20;
  std::size_t max_member_name = 255;  // bytes of a zip member's path
  std::uint64_t max_members = 100000;
  // Not a limit: the size of the chunks handed to on_chunk (the last of a member may be shorter).
  std::size_t chunk_bytes = 1u << 20;
};

struct InputMember {
  std::string name;      // "path", "outer.zip!inner.csv", "a.zip!b.zip!c.csv"
  InputKind outer_kind;  // what the input itself sniffed as
  unsigned depth;        // container layers around this member (see InputLimits::max_nesting)
};

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

struct InputResult {
  bool opened = false;  // false: the input could not be opened at all (see error); exit 2
  std::string error;
  std::uint64_t members = 0;    // members started (on_member calls)
  std::uint64_t errors = 0;     // on_error calls
  std::uint64_t bytes_in = 0;   // raw bytes read from the input (a zip read by its index may
                                // read a few bytes twice)
  std::uint64_t bytes_out = 0;  // bytes handed to on_chunk
};

InputResult read_input(const std::filesystem::path& path, InputVisitor& visitor,
                       const InputLimits& limits = {});

// Same, for bytes already in memory (an HTTP body, say). `name` names the input in members and
// messages. The bytes must stay valid for the duration of the call.
InputResult read_input_buffer(std::string_view name, std::string_view bytes, InputVisitor& visitor,
                              const InputLimits& limits = {});

}  // namespace meterd
