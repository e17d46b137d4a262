// The one abstraction the input layers share: something that yields bytes on request. A file, a
// buffer, a decompressor and a zip member all look alike, so layers stack in any order.
// Internal to protocol/input_*.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "protocol/input_sniff.hpp"

namespace meterd {

// A problem with the input (not with the caller): corrupt data, a limit, an unsafe name.
// The message names the file or member at fault.
class InputError : public std::runtime_error {
 public:
  // `stops_input`: nothing more of this input may be read (expansion limits), as opposed to a
  // problem confined to one member.
  explicit InputError(const std::string& message, bool stops_input = false)
      : std::runtime_error(message), stops_input_(stops_input) {}
  bool stops_input() const { return stops_input_; }
  // Set once the error has reached the visitor, so that the layers it unwinds through do not
  // report it again.
  bool reported = false;

 private:
  bool stops_input_;
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `size` bytes into `out`; 0 only at the end. Throws InputError on failure.
  virtual std::size_t read(char* out, std::size_t size) = 0;
  // Files and buffers can seek, which lets a zip be read from its central directory: only that
  // knows which members are symlinks, and where members without sizes in their local header end.
  // Streams (decompressors, members of archives) cannot.
  virtual bool can_seek() const { return false; }
  // As lseek: `whence` is SEEK_SET, SEEK_CUR or SEEK_END; returns the new position. Throws
  // InputError if the source cannot seek or the position is invalid.
  virtual std::uint64_t seek(std::int64_t offset, int whence);
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
  std::size_t read(char* out, std::size_t size) override;
  bool can_seek() const override { return regular_; }
  std::uint64_t seek(std::int64_t offset, int whence) override;

 private:
  std::string name_;
  int fd_ = -1;
  bool regular_ = false;  // pipes and devices stream only
};

class BufferByteSource final : public ByteSource {
 public:
  explicit BufferByteSource(std::string_view bytes) : bytes_(bytes) {}
  std::size_t read(char* out, std::size_t size) override;
  bool can_seek() const override { return true; }
  std::uint64_t seek(std::int64_t offset, int whence) override;

 private:
  std::string_view bytes_;
  std::size_t position_ = 0;
};

// Counts what passes through, into a counter the caller owns (so it outlives the wrapper).
class CountingByteSource final : public ByteSource {
 public:
  CountingByteSource(ByteSource& inner, std::uint64_t& count) : inner_(inner), count_(count) {}
  std::size_t read(char* out, std::size_t size) override;
  bool can_seek() const override { return inner_.can_seek(); }
  std::uint64_t seek(std::int64_t offset, int whence) override {
    return inner_.seek(offset, whence);
  }

 private:
  ByteSource& inner_;
  std::uint64_t& count_;
};

// Looks at the first bytes to decide what the source is, then replays them ahead of the rest.
class SniffedByteSource final : public ByteSource {
 public:
  explicit SniffedByteSource(ByteSource& inner);
  InputKind kind() const { return kind_; }
  std::size_t read(char* out, std::size_t size) override;
  bool can_seek() const override { return inner_.can_seek(); }
  std::uint64_t seek(std::int64_t offset, int whence) override;

 private:
  ByteSource& inner_;
  char head_[kSniffBytes];
  std::size_t head_size_ = 0, head_pos_ = 0;
  InputKind kind_;
};

}  // namespace meterd
