#include "protocol/reading_decoder.hpp"

#include <algorithm>

namespace meterd {

ReadingFormat sniff_reading_format(std::string_view bytes) {
  for (const std::string_view magic : {kBatchFileMagic, kBatchFileMagicV2, kBatchFileMagicV1})
    if (bytes.substr(0, magic.size()) == magic.substr(0, bytes.size()))
      return bytes.size() >= magic.size() ? ReadingFormat::batch_file : ReadingFormat::undecided;
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (bytes.size() < kBom.size() && kBom.substr(0, bytes.size()) == bytes)
    return ReadingFormat::undecided;  // a BOM cut by the chunking: wait for the rest
  if (bytes.substr(0, 3) == kBom) bytes.remove_prefix(3);
  for (char c : bytes) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' ? ReadingFormat::ndjson : ReadingFormat::nem12;
  }
  return ReadingFormat::undecided;
}

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

ReadingDecoder::ReadingDecoder(ReaderOptions options, ReadingSink& sink)
    : options_(std::move(options)), sink_(sink) {}
ReadingDecoder::~ReadingDecoder() = default;

void ReadingDecoder::decide(ReadingFormat format) {
  format_ = format;
  if (format == ReadingFormat::ndjson)
    ndjson_ = std::make_unique<NdjsonReader>(options_, sink_);
  else if (format == ReadingFormat::batch_file)
    batches_ = std::make_unique<BatchFileReader>(options_, sink_);
  else
    nem12_ = std::make_unique<Nem12Reader>(options_, sink_);
  if (!held_.empty()) {
    std::string held = std::move(held_);
    held_.clear();
    feed(held);
  }
}

void ReadingDecoder::feed(std::string_view chunk) {
  if (format_ == ReadingFormat::undecided) {
    // A leading BOM/whitespace may be split over chunks: hold it (it is tiny) until a real
    // byte arrives. Anything long that is all whitespace is left to the NEM12 reader.
    const auto format = sniffer_.feed(chunk);
    if (format == ReadingFormat::undecided && held_.size() + chunk.size() < 4096) {
      held_.append(chunk);
      return;
    }
    if (!held_.empty()) {
      // The reader gets what was held and this chunk as one piece: a BOM cut by the chunking
      // reaches it whole (the NDJSON reader looks for one only at the start of its first chunk).
      held_.append(chunk);
      return decide(format == ReadingFormat::undecided ? ReadingFormat::nem12 : format);
    }
    decide(format == ReadingFormat::undecided ? ReadingFormat::nem12 : format);
  }
  if (ndjson_)
    ndjson_->feed(chunk);
  else if (batches_)
    batches_->feed(chunk);
  else
    nem12_->feed(chunk);
}

void ReadingDecoder::finish() {
  if (format_ == ReadingFormat::undecided) decide(ReadingFormat::nem12);
  if (ndjson_)
    ndjson_->finish();
  else if (batches_)
    batches_->finish();
  else
    nem12_->finish();
}

const FileReport& ReadingDecoder::report() const {
  static const FileReport kNothingYet;
  if (ndjson_) return ndjson_->report();
  if (batches_) return batches_->report();
  return nem12_ ? nem12_->report() : kNothingYet;
}

FileReport& ReadingDecoder::report() {
  if (format_ == ReadingFormat::undecided) decide(ReadingFormat::nem12);
  if (batches_) return batches_->report();
  return ndjson_ ? ndjson_->report() : nem12_->report();
}

}  // namespace meterd
