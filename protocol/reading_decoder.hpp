// The pipeline's decoder for one input member: NEM12/NEM13, NDJSON or a batch file, chosen by
// content (the batch file's magic; else the first byte that is not a BOM or whitespace: '{'
// means NDJSON). Same API as Nem12Reader, so the reader actor does not care which format a
// file is in.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "protocol/batch_file.hpp"
#include "protocol/file_report.hpp"
#include "protocol/ndjson_reader.hpp"
#include "protocol/nem12_reader.hpp"

namespace meterd {

enum class ReadingFormat { undecided, nem12, ndjson, batch_file };

// Which format `first_bytes` start (undecided while only a BOM/whitespace has been seen).
ReadingFormat sniff_reading_format(std::string_view first_bytes);

// sniff_reading_format over a stream that arrives in chunks (the decoder below, the HTTP server
// deciding whether a body is NDJSON, the forwarder choosing an endpoint): the same answer when a
// BOM or the batch file magic is cut between chunks, in constant memory however long the
// leading whitespace.
class ReadingFormatSniffer {
 public:
  // The format once the bytes fed so far tell it, else undecided.
  ReadingFormat feed(std::string_view chunk);
  ReadingFormat format() const { return format_; }

 private:
  ReadingFormat format_ = ReadingFormat::undecided;
  std::string head_;  // the first bytes, while undecided
};

class ReadingDecoder {
 public:
  ReadingDecoder(ReaderOptions options, ReadingSink& sink);
  ~ReadingDecoder();
  ReadingDecoder(const ReadingDecoder&) = delete;
  ReadingDecoder& operator=(const ReadingDecoder&) = delete;

  void feed(std::string_view chunk);
  void finish();
  const FileReport& report() const;
  FileReport& report();
  ReadingFormat format() const { return format_; }

 private:
  void decide(ReadingFormat format);

  ReaderOptions options_;
  ReadingSink& sink_;
  ReadingFormat format_ = ReadingFormat::undecided;
  ReadingFormatSniffer sniffer_;
  std::string held_;  // leading whitespace seen before the format was known
  std::unique_ptr<Nem12Reader> nem12_;
  std::unique_ptr<NdjsonReader> ndjson_;
  std::unique_ptr<BatchFileReader> batches_;
};

}  // namespace meterd
