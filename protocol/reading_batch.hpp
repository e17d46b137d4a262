// Column batches of interval readings: the unit that flows from readers to storage.
//
// A NEM12 300 record carries up to 288 readings that share every field but the value and
// the interval start; a 400 record splits a day into ranges that share quality and reason.
// The batch therefore stores one row per *run* (a contiguous range of intervals of one day
// with identical attributes) and one value per reading. Interval start of reading k of a run
// is run.first_start + k * run.interval_minutes * 60. This keeps the per-reading cost of the
// parser at one double store, and gives storage natural run-length encoding.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace meterd {

// Epoch seconds, UTC. NEM time is UTC+10 fixed, so NEM midnight = UTC 14:00 the day before.
using epoch_seconds = std::int64_t;
inline constexpr epoch_seconds kNoTime = std::numeric_limits<epoch_seconds>::min();
inline constexpr std::int16_t kNoReasonCode = -1;
inline constexpr std::uint8_t kNoMethod = 0;
// Every quality flag a stored reading can carry. V (variable) is what NEM12 leaves when no 400
// record resolves an interval, and what an NDJSON reading may say outright.
inline constexpr std::string_view kQualityFlags = "AEFSNV";
inline constexpr bool is_quality_flag(char flag) {
  return flag != 0 && kQualityFlags.find(flag) != std::string_view::npos;
}

// Interned strings of one batch. Id 0 is always the empty string.
class StringTable {
 public:
  StringTable() { clear(); }
  std::uint32_t intern(std::string_view text);
  std::string_view operator[](std::uint32_t id) const {
    return std::string_view(arena_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
  }
  std::size_t size() const { return offsets_.size() - 1; }
  std::size_t bytes() const { return arena_.size(); }
  void clear();

 private:
  std::string arena_;
  std::vector<std::uint32_t> offsets_;  // size() + 1 entries
  std::unordered_map<std::string, std::uint32_t> index_;
};

// One run of readings: same stream, same day, same quality/reason.
struct ReadingRun {
  std::uint32_t first_value = 0;  // index into ReadingBatch::values
  std::uint32_t count = 0;        // readings in this run
  std::uint32_t nmi = 0;          // string ids into ReadingBatch::strings
  std::uint32_t suffix = 0;
  std::uint32_t register_id = 0;
  std::uint32_t meter_serial = 0;
  std::uint32_t uom = 0;
  std::uint32_t reason_description = 0;
  std::uint16_t interval_minutes = 0;
  char quality = 'A';               // one of kQualityFlags
  std::uint8_t method = kNoMethod;  // two-digit method flag, 0 = none
  std::int16_t reason_code = kNoReasonCode;
  std::uint32_t line = 0;         // source line of the run's first reading (the 300 record)
  std::uint8_t line_step = 0;     // 1: reading k is on line + k (NDJSON, a reading per line)
  epoch_seconds first_start = 0;  // start of the run's first interval
  epoch_seconds update_datetime = kNoTime;
  epoch_seconds msats_load_datetime = kNoTime;
  epoch_seconds file_created = kNoTime;  // 100 record DateTime
  std::uint64_t file_sequence = 0;       // assigned at ingest; 0 for `meterd parse`

  epoch_seconds interval_start(std::uint32_t k) const {
    return first_start + static_cast<epoch_seconds>(k) * interval_minutes * 60;
  }
  std::uint32_t line_of(std::uint32_t k) const { return line + k * line_step; }
  // Readings [from, from + n) of this run as a run of their own (values stay where they are).
  ReadingRun readings(std::uint32_t from, std::uint32_t n) const {
    ReadingRun part = *this;
    part.first_value = first_value + from;
    part.first_start = interval_start(from);
    part.count = n;
    part.line = line_of(from);
    if (n < 2) part.line_step = 0;
    return part;
  }
};

// A flat, self-contained view of one reading (for tests, printing and slow paths).
struct ReadingRow {
  std::string_view nmi, suffix, register_id, meter_serial, uom, reason_description;
  std::uint16_t interval_minutes;
  char quality;
  std::uint8_t method;
  std::int16_t reason_code;
  std::uint32_t line;
  epoch_seconds interval_start, update_datetime, msats_load_datetime, file_created;
  std::uint64_t file_sequence;
  double value;
};

struct ReadingBatch {
  StringTable strings;
  std::vector<ReadingRun> runs;
  std::vector<double> values;

  std::size_t readings() const { return values.size(); }
  bool empty() const { return values.empty(); }
  void clear() {
    strings.clear();
    runs.clear();
    values.clear();
  }
  ReadingRow row(const ReadingRun& run, std::uint32_t k) const;
  // Calls fn(const ReadingRow&) for every reading in order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& run : runs)
      for (std::uint32_t k = 0; k < run.count; ++k) fn(row(run, k));
  }
};

// A 500 record (NEM12 B2B details), attached to the day of the preceding 300.
struct B2BEvent {
  std::string nmi, suffix;
  epoch_seconds interval_date = kNoTime;  // NEM midnight of the 300's IntervalDate
  char trans_code = 0;
  std::string ret_service_order;
  epoch_seconds read_datetime = kNoTime;
  std::string index_read;
  epoch_seconds file_created = kNoTime;
  std::uint32_t line = 0;
};

// A NEM13 250 record (accumulation meter read period) with its 550 details.
struct RegisterReadPeriod {
  std::string nmi, nmi_configuration, register_id, suffix, mdm_stream, meter_serial;
  char direction = 0;
  std::string previous_read, current_read;  // kept as text: leading zeros matter
  epoch_seconds previous_read_datetime = kNoTime, current_read_datetime = kNoTime;
  std::string previous_quality_method, current_quality_method;
  std::int16_t previous_reason_code = kNoReasonCode, current_reason_code = kNoReasonCode;
  std::string previous_reason_description, current_reason_description;
  double quantity = 0;
  std::string uom;
  epoch_seconds next_scheduled_read = kNoTime;
  epoch_seconds update_datetime = kNoTime, msats_load_datetime = kNoTime;
  epoch_seconds file_created = kNoTime;
  std::string previous_trans_code, previous_ret_service_order;  // from the 550
  std::string current_trans_code, current_ret_service_order;
  std::uint32_t line = 0;
};

}  // namespace meterd
