// Sources that wrap another: counting what passes, and sniffing what the bytes are. Internal to
// protocol/input_*: the walk stacks them between the layers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "protocol/input_byte_source.hpp"
#include "protocol/input_sniff.hpp"

namespace meterd {

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
