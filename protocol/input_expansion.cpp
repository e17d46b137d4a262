#include "protocol/input_expansion.hpp"

#include <algorithm>
#include <cstdio>

namespace meterd {
namespace {

std::string ratio_text(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f:1", ratio);
  return text;
}

// Read-ahead means the compressed count can run ahead of what was really consumed; that only
// understates the ratio, so a bomb is caught a little later, never a good file early.
bool over_ratio(std::uint64_t expanded, std::uint64_t compressed, const InputLimits& limits,
                double max_ratio) {
  return expanded > limits.ratio_floor_bytes &&
         static_cast<double>(expanded) >
             max_ratio * static_cast<double>(std::max<std::uint64_t>(compressed, 1));
}

std::string ratio_message(const std::string& what, std::uint64_t expanded, std::uint64_t compressed,
                          double max_ratio) {
  const double ratio =
      static_cast<double>(expanded) / static_cast<double>(std::max<std::uint64_t>(compressed, 1));
  return what + " expanded " + std::to_string(expanded) + " bytes from " +
         std::to_string(compressed) + " compressed bytes, a ratio of " + ratio_text(ratio) +
         " over the limit of " + ratio_text(max_ratio) +
         " (zip bomb?); the rest of the input is not read";
}

}  // namespace

ExpansionGuard::ExpansionGuard(ByteSource& decoded, const std::uint64_t* compressed_count,
                               std::uint64_t read_ahead, std::string name, ExpansionBudget& budget,
                               double max_ratio)
    : decoded_(decoded),
      compressed_count_(compressed_count),
      compressed_start_(*compressed_count),
      read_ahead_(read_ahead),
      name_(std::move(name)),
      budget_(budget),
      max_ratio_(max_ratio) {
  budget_.max_ratio = std::max(budget_.max_ratio, max_ratio);
}

std::size_t ExpansionGuard::read(char* out, std::size_t size) {
  const std::size_t got = decoded_.read(out, size);
  expanded_ += got;
  budget_.expanded += got;
  check();
  return got;
}

void ExpansionGuard::check() const {
  const InputLimits& limits = budget_.limits;
  if (budget_.expanded > limits.max_expanded_bytes)
    throw InputError(name_ + ": decompressing " + budget_.input_name + " produced over " +
                         std::to_string(limits.max_expanded_bytes) +
                         " bytes, the limit for one input; the rest of the input is not read",
                     true);
  const std::uint64_t compressed = *compressed_count_ - compressed_start_ + read_ahead_;
  if (over_ratio(expanded_, compressed, limits, max_ratio_))
    throw InputError(ratio_message(name_ + ":", expanded_, compressed, max_ratio_), true);
  // Nested layers multiply: each may stay under the ratio while the whole explodes.
  if (over_ratio(budget_.expanded, budget_.input_bytes, limits, budget_.max_ratio))
    throw InputError(ratio_message(name_ + ": the whole of " + budget_.input_name, budget_.expanded,
                                   budget_.input_bytes, budget_.max_ratio),
                     true);
}

}  // namespace meterd
