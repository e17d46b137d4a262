// Opening an input by its content, not its name, and pulling every logical file inside it out
// one at a time, whatever wrapping it arrived in:
//
//   plain            → one member, named after the input
//   gzip / bzip2     → one member, decompressed (concatenated streams decode fully); if the
//                      decompressed bytes are themselves a zip/gzip/bzip2, that is opened too
//   zip              → each regular member on its own, named "outer.zip!inner.csv"; members that
//                      are archives or compressed are opened recursively ("a.zip!b.zip!c.csv")
//
// The caller pulls: next() moves to the next member, read() hands out its bytes. The layers
// (file, decompressors, archives) are an explicit stack, not a call stack or a thread, so the
// caller may stop between any two calls for as long as it likes (a reader actor out of credit).
// Nothing is held whole in memory: each layer keeps a buffer or two, nested archives read
// straight out of their parent's member.
//
// Limits guard against hostile or broken inputs (zip bombs, path tricks, runaway nesting). A
// problem with the content of one member is reported (member_error(), or an error event) and
// the walk goes on with the next member where the container still allows it; expansion limits
// stop the whole input. A failure of the source itself is not the content's fault and comes out
// as an exception (see InputReadOptions). protocol/input_source.hpp pushes the same walk to a
// visitor instead.
//
// For an input read from a file, the SHA-256 of its raw bytes is computed along the way
// (content_hash()), so that parsing and hashing are one pass.
//
// Pure apart from reading the input: no global state; readers on several threads at once do not
// interfere. One reader is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/input_byte_source.hpp"
#include "protocol/input_content_hash.hpp"
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
  // Not a limit: the size of the chunks the push API hands to on_chunk (the last of a member
  // may be shorter). The pull API reads into the caller's buffer, whatever its size.
  std::size_t chunk_bytes = 1u << 20;
};

struct InputMember {
  std::string name;                         // "path", "outer.zip!inner.csv", "a.zip!b.zip!c.csv"
  InputKind outer_kind = InputKind::plain;  // what the input itself sniffed as
  unsigned depth = 0;  // container layers around this member (see InputLimits::max_nesting)
};

struct InputResult {
  bool opened = false;  // false: the input could not be opened at all (see error); exit 2
  std::string error;
  std::uint64_t members = 0;    // members started
  std::uint64_t errors = 0;     // errors reported (events, broken-off members)
  std::uint64_t bytes_in = 0;   // raw bytes the walk read from the input (a zip read by its
                                // index may read a few bytes twice; content_hash() not counted)
  std::uint64_t bytes_out = 0;  // member bytes handed to the caller
};

struct InputReadOptions {
  // Hash the raw bytes as they are read (content_hash()). About 0.5 ns a byte with SHA-NI: off
  // for callers that never ask.
  bool hash_content = true;
  // A failure of the source itself (std::system_error: read(2) failed) is by default thrown out
  // of next() and read(), unchanged, whichever layer it surfaced in: the caller decides whether
  // to try again. With this set it is instead reported like a content error that stops the
  // input: on the member it cut short, or as an error event (`meterd parse`: say what failed
  // and go on with the next file). Other exceptions (std::bad_alloc, a bug) always propagate.
  bool report_source_failures = false;
};

class InputReader {
 public:
  struct Event {
    enum class Kind { member, error, end };
    Kind kind = Kind::end;
    InputMember member;   // member: the member now open for read()
    std::string where;    // error: the member or container affected
    std::string message;  // error: names the file or member at fault and says what went wrong
  };

  // A file, pipe or device. Not opened (opened() false) if it cannot be opened or is a
  // directory.
  explicit InputReader(const std::filesystem::path& path, const InputLimits& limits = {},
                       const InputReadOptions& options = {});
  // Bytes already in memory (an HTTP body, say); they must outlive the reader. `name` names the
  // input in members and messages.
  InputReader(std::string name, std::string_view bytes, const InputLimits& limits = {},
              const InputReadOptions& options = {});
  // Not from a temporary string: the reader would outlive its bytes.
  InputReader(std::string name, std::string&& bytes, const InputLimits& limits = {},
              const InputReadOptions& options = {}) = delete;
  // Any raw source at its start (a test wraps a FileByteSource to inject read failures).
  InputReader(std::string name, std::unique_ptr<ByteSource> raw, const InputLimits& limits = {},
              const InputReadOptions& options = {});
  ~InputReader();
  InputReader(InputReader&&) noexcept;  // the moved-from reader may only be destroyed
  InputReader& operator=(InputReader&&) noexcept;

  bool opened() const;
  const std::string& error() const;  // why it could not be opened

  // Moves to the next member: a member event (now readable), an error event for a member or
  // container that never started (unsafe name, too deep, unreadable archive, a limit), or the
  // end (then always the end). Every error is seen exactly once: as an event, or as the
  // member_error() of the member it cut short. Called before the current member was read to its
  // end, it reads through the rest first (limits still apply, the hash still sees every byte);
  // should the rest break off, that comes as an error event for the member. A failure of the
  // source is thrown from next() and read() (see InputReadOptions), and again by every later
  // call: the walk cannot go on.
  Event next();
  // The current member's next bytes: fills `out` with up to `size` (> 0) bytes, fewer only at
  // the member's end; 0 at the end (or with no member open).
  std::size_t read(char* out, std::size_t size);
  // After read() gave 0: why the member broke off, "" if it is complete.
  const std::string& member_error() const;

  const InputResult& result() const;
  const InputLimits& limits() const;

  // Hex SHA-256 of the raw input, whole: what the walk read in order was hashed as it went, the
  // rest (a zip's central directory, what a limit left unread) is read now with read_at (for a
  // pipe: on from the stream, which then is at its end). Meant for once the walk is over; any
  // reading after it is no longer hashed. "" if not opened or hash_content is off. Throws
  // std::system_error if the source fails.
  std::string content_hash();
  // Size and SHA-256 of the first 64 KiB, read with read_at, so the walk is not disturbed:
  // cheap enough to ask first whether the file may be known already. nullopt for a source
  // without random access (a pipe) or an input not opened.
  std::optional<InputFingerprint> fingerprint();

 private:
  class Walk;
  std::unique_ptr<Walk> walk_;
};

}  // namespace meterd
