#include "app/reading_format_sniffer.hpp"

#include <algorithm>

namespace meterd::app {
namespace {

// What sniff_reading_format looks at besides the first byte that is not whitespace: a leading
// BOM or batch file magic. Past these bytes an undecided stream holds only whitespace, which
// does not change the answer and need not be kept.
constexpr std::size_t kHeadBytes = std::max<std::size_t>(kBatchFileMagic.size(), 3);

}  // namespace

ReadingFormat ReadingFormatSniffer::feed(std::string_view chunk) {
  if (format_ != ReadingFormat::undecided || chunk.empty()) return format_;
  if (head_.empty()) {
    format_ = sniff_reading_format(chunk);
    if (format_ == ReadingFormat::undecided) head_ = chunk.substr(0, kHeadBytes);
    return format_;
  }
  head_.append(chunk);
  format_ = sniff_reading_format(head_);
  head_.resize(std::min(head_.size(), kHeadBytes));
  return format_;
}

}  // namespace meterd::app
