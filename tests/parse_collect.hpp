// Test helper: parse an input (any wrapping) with the real reader and keep everything it emits
// as owned values, so tests can compare runs, chunkings and independent parsers' outputs.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/file_report.hpp"
#include "protocol/nem12_reader.hpp"
#include "protocol/reading_batch.hpp"

namespace meterd::test {

struct OwnedReading {
  std::string nmi, suffix, register_id, meter_serial, uom, reason_description;
  std::uint16_t interval_minutes = 0;
  char quality = 0;
  std::uint8_t method = 0;
  std::int16_t reason_code = kNoReasonCode;
  std::uint32_t line = 0;
  epoch_seconds interval_start = 0, update_datetime = kNoTime, msats_load_datetime = kNoTime,
                file_created = kNoTime;
  double value = 0;
  bool operator==(const OwnedReading&) const = default;
};

struct ParsedInput {
  bool opened = false;
  std::vector<std::string> input_errors;
  std::vector<FileReport> reports;  // one per member
  std::vector<OwnedReading> readings;
  std::vector<B2BEvent> b2b_events;
  std::vector<RegisterReadPeriod> register_reads;
  std::size_t batches = 0;
};

class CollectingSink : public ReadingSink {
 public:
  explicit CollectingSink(ParsedInput& out) : out_(out) {}
  void on_readings(ReadingBatch& batch) override;
  void on_b2b_events(std::vector<B2BEvent>& events) override;
  void on_register_reads(std::vector<RegisterReadPeriod>& reads) override;

 private:
  ParsedInput& out_;
};

// Reads a file through read_input (so zips and compressed files work) and the reader.
ParsedInput parse_path(const std::filesystem::path& path, bool strict = false,
                       std::uint32_t batch_readings = 65536);
// Feeds `bytes` in chunks of `chunk` bytes (0 = all at once) to one reader.
ParsedInput parse_bytes(std::string_view bytes, std::size_t chunk, bool strict = false,
                        std::uint32_t batch_readings = 65536);

}  // namespace meterd::test
