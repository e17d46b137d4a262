// The one abstraction the input layers share: something that yields bytes on request. A file, a
// buffer, a decompressor and a zip member all look alike, so layers stack in any order.
//
// Public: InputReader takes any ByteSource as its raw input, so a caller (or a test) can wrap a
// FileByteSource to count, throttle or fail its reads.
//
// The contract every source keeps, and every layer above relies on:
//   * read() blocks until it has at least one byte, or returns 0 at the end (and from then on).
//   * Exceptions say whose fault a failure is:
//       - InputError: the content is at fault (corrupt data, a limit, an unsafe name). It is
//         reported against the member or container concerned, and reading goes on where the
//         container allows it.
//       - anything else, std::system_error above all (read(2) failed: EIO, a lost NFS server):
//         the source itself failed, and trying again later may help. InputReader passes it to
//         its caller unchanged, through every layer (decompressors and archives included).
//   * A source that can_seek() is random access (a regular file, a buffer): seek, read_at and
//     size all work. One that cannot (a pipe, a decompressor, an archive member) only streams.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace meterd {

// A problem with the input (not with the caller or the system): corrupt data, a limit, an
// unsafe name. The message names the file or member at fault.
class InputError : public std::runtime_error {
 public:
  // `stops_input`: nothing more of this input may be read (expansion limits), as opposed to a
  // problem confined to one member.
  explicit InputError(const std::string& message, bool stops_input = false)
      : std::runtime_error(message), stops_input_(stops_input) {}
  bool stops_input() const { return stops_input_; }
  // Set once the error has been reported, so that the layers it unwinds through (an archive
  // rethrows what broke its own source) do not report it again.
  bool reported = false;

 private:
  bool stops_input_;
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `size` (> 0) bytes into `out`; 0 only at the end. Throws as the contract above says.
  virtual std::size_t read(char* out, std::size_t size) = 0;
  // Random access lets a zip be read from its central directory (only that knows which members
  // are symlinks, and where members without sizes in their local header end), and lets the
  // content hash fill in what the walk skipped.
  virtual bool can_seek() const { return false; }
  // As lseek: `whence` is SEEK_SET, SEEK_CUR or SEEK_END; returns the new position. Throws
  // InputError if the source cannot seek or the position is invalid (a corrupt zip's offsets).
  virtual std::uint64_t seek(std::int64_t offset, int whence);
  // As pread: up to `size` bytes from `offset` without moving the read position; 0 at the end.
  // Only if can_seek().
  virtual std::size_t read_at(std::uint64_t offset, char* out, std::size_t size);
  // The current size in bytes (fstat). Only if can_seek().
  virtual std::uint64_t size();
};

// Reads `size` bytes unless the source ends first; returns how many.
std::size_t read_fully(ByteSource& source, char* out, std::size_t size);

class FileByteSource final : public ByteSource {
 public:
  // Throws InputError if the path cannot be opened or is not something one can read bytes from.
  explicit FileByteSource(const std::filesystem::path& path);
  ~FileByteSource() override;
  FileByteSource(const FileByteSource&) = delete;
  FileByteSource& operator=(const FileByteSource&) = delete;
  // A failed read(2) or pread(2) throws std::system_error ("cannot read <path>: <strerror>"):
  // the disk or the network failed, not the content.
  std::size_t read(char* out, std::size_t size) override;
  bool can_seek() const override { return regular_; }
  std::uint64_t seek(std::int64_t offset, int whence) override;
  std::size_t read_at(std::uint64_t offset, char* out, std::size_t size) override;
  std::uint64_t size() override;

 private:
  [[noreturn]] void fail_read() const;

  std::string name_;
  int fd_ = -1;
  bool regular_ = false;  // pipes and devices stream only
};

// Bytes already in memory; they must outlive the source.
class BufferByteSource final : public ByteSource {
 public:
  explicit BufferByteSource(std::string_view bytes) : bytes_(bytes) {}
  std::size_t read(char* out, std::size_t size) override;
  bool can_seek() const override { return true; }
  std::uint64_t seek(std::int64_t offset, int whence) override;
  std::size_t read_at(std::uint64_t offset, char* out, std::size_t size) override;
  std::uint64_t size() override { return bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t position_ = 0;
};

}  // namespace meterd
