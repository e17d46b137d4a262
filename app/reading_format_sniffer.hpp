// protocol's sniff_reading_format over a stream that arrives in chunks, for the HTTP server
// (is a /v1/readings body NDJSON?) and the forwarder (which endpoint does a file go to?): the
// same answer as the pipeline's decoder, also when a BOM or the batch file magic is cut between
// chunks, in constant memory however long the leading whitespace.
#pragma once

#include <string>
#include <string_view>

#include "protocol/reading_decoder.hpp"

namespace meterd::app {

class ReadingFormatSniffer {
 public:
  // The format once the bytes fed so far tell it, else undecided.
  ReadingFormat feed(std::string_view chunk);
  ReadingFormat format() const { return format_; }

 private:
  ReadingFormat format_ = ReadingFormat::undecided;
  std::string head_;  // the first bytes, while undecided
};

}  // namespace meterd::app
