// Zip-bomb defence: every decoding layer (a gzip or bzip2 stream, a zip member) is read through an
// ExpansionGuard, which stops the input as soon as it expands too much, in total or per byte read.
#pragma once

#include <cstdint>
#include <string>

#include "protocol/input_byte_source.hpp"
#include "protocol/input_reader.hpp"

namespace meterd {

// What one input has expanded to so far, across all its layers.
struct ExpansionBudget {
  const InputLimits& limits;
  std::string input_name;
  const std::uint64_t& input_bytes;  // raw bytes read from the input itself
  std::uint64_t expanded = 0;
  double max_ratio = limits.max_ratio;  // raised to max_ratio_bzip2 once a bzip2 layer is read
};

class ExpansionGuard final : public ByteSource {
 public:
  // `*compressed_count` is a running count of bytes the layer has consumed; only its growth from
  // now on is charged to this layer (a zip member shares the counter with its siblings).
  // `read_ahead` is how many of the layer's compressed bytes may have been counted before now
  // (read along with the previous member): they are credited to the layer, so that a good member
  // which arrived in one block with its predecessor does not look like it came from nothing.
  // `max_ratio` is this layer's limit (InputLimits::max_ratio, or max_ratio_bzip2).
  ExpansionGuard(ByteSource& decoded, const std::uint64_t* compressed_count,
                 std::uint64_t read_ahead, std::string name, ExpansionBudget& budget,
                 double max_ratio);
  // Throws an InputError that stops the input once a limit is exceeded.
  std::size_t read(char* out, std::size_t size) override;

 private:
  void check() const;

  ByteSource& decoded_;
  const std::uint64_t* compressed_count_;
  const std::uint64_t compressed_start_;
  const std::uint64_t read_ahead_;
  std::string name_;
  ExpansionBudget& budget_;
  const double max_ratio_;
  std::uint64_t expanded_ = 0;
};

}  // namespace meterd
