// Rollups: aggregates of the readings defined in configuration (conf/rollups.conf), one line per
// rollup:
//
//   NAME = MEASURE by GROUP[,GROUP...] per PERIOD [where suffix=PATTERN[|PATTERN] uom=UOM[|UOM]]
//
//   MEASURE  sum | min | max | count | peak (the largest 30-minute total of a stream, with its
//            interval) | completeness (intervals present / intervals expected, with the share
//            of each quality flag and of the missing)
//   GROUP    nmi, suffix, uom, quality (the tenant always: a rollup lives in its partitions)
//   PERIOD   30min | day | month, in NEM time (UTC+10)
//   PATTERN  a suffix, or a prefix ending in * (E* = every suffix starting with E)
//
// A rollup of a month partition is a pure function of that partition's winners (the readings a
// query returns), computed in their (nmi, suffix, interval_start) order: so it is exact however
// readings arrived, were re-sent or superseded, and the same data always gives the same rows.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/reading_batch.hpp"
#include "storage/record_part.hpp"
#include "storage/record_tables.hpp"

namespace meterd::storage {

enum class RollupMeasure : std::uint8_t { sum, min, max, count, peak, completeness };
enum class RollupPeriod : std::uint8_t { half_hour, day, month };
enum RollupGroup : std::uint8_t {
  kGroupNmi = 1,
  kGroupSuffix = 2,
  kGroupUom = 4,
  kGroupQuality = 8,
};

struct RollupDefinition {
  std::string name;  // [a-z0-9_], its directory: DATA_DIR/rollups/NAME/
  RollupMeasure measure = RollupMeasure::sum;
  std::uint8_t group = kGroupNmi | kGroupSuffix;
  RollupPeriod period = RollupPeriod::day;
  std::vector<std::string> suffixes;  // empty: every suffix; "E*": a prefix
  std::vector<std::string> uoms;      // empty: every unit
  std::string text;                   // canonical definition: a change makes it a new rollup

  bool takes(std::string_view suffix, std::string_view uom) const;
  const RecordTableSpec& spec() const;  // the row schema of its measure
  bool operator==(const RollupDefinition& o) const { return name == o.name && text == o.text; }
};

// A rollup's name: 1 to 64 of [a-z0-9_] (it names a directory).
bool valid_rollup_name(std::string_view name);

// Parses a rollups file; throws std::invalid_argument naming `origin`, the line and what is
// wrong. An empty text is no rollups.
std::vector<RollupDefinition> parse_rollups(const std::string& text, const std::string& origin);

// Row schemas. Keys: nmi, suffix, uom, quality ("" where not grouped), period_start.
// Value rollups (sum, min, max, count, peak): value, readings, at (the interval of the min, max
// or peak; null for sum and count).
// Completeness: value (present / expected), readings (present), expected, share_a, share_e,
// share_sf, share_n, share_v, share_missing.
enum RollupColumn : std::size_t {
  kRuNmi,
  kRuSuffix,
  kRuUom,
  kRuQuality,
  kRuPeriodStart,
  kRuValue,
  kRuReadings,
  kRuAt,  // value rollups
  kRuExpected = kRuAt,
  kRuShareA,
  kRuShareE,
  kRuShareSF,
  kRuShareN,
  kRuShareV,
  kRuShareMissing,
};

// Computes one rollup over one partition's winners, fed a batch at a time in query order.
class RollupBuilder {
 public:
  explicit RollupBuilder(const RollupDefinition& definition);
  ~RollupBuilder();
  RollupBuilder(RollupBuilder&&) noexcept;
  void add(const ReadingBatch& winners);
  // The rows, in the table's row order; the builder is empty after.
  std::vector<RecordRow> finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Text of rollup rows: CSV (a header, then rows) or one JSON object per line. Timestamps in NEM
// time, ISO 8601 with +10:00.
void append_rollup_csv_header(std::string& out, const RollupDefinition& definition);
void append_rollup_row(std::string& out, const RollupDefinition& definition, const RecordRow& row,
                       bool json);

}  // namespace meterd::storage
