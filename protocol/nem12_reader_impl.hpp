// Internal to the NEM12/NEM13 reader: its state, shared by the files that read each group of
// records. nem12_reader.cpp assembles lines and dispatches records (100, 900, the file's
// shape), nem12_day.cpp reads the interval data (200 block, 300 day, 500) and commits
// days to the batch, nem12_quality.cpp reads the 400s and reason codes, nem13_records.cpp
// reads the accumulation records (250, 550).
//
// What the per-line and per-day paths call is defined in this header so that it stays inline
// across the split (find_eol, consume_eol, field, intern_block_ids).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/file_report.hpp"
#include "protocol/mdff_fields.hpp"
#include "protocol/nem12_reader.hpp"
#include "protocol/reading_batch.hpp"

namespace meterd {

struct Nem12Reader::Impl {
  using QualityMethod = mdff::QualityMethod;

  enum class FileKind : std::uint8_t { unknown, nem12, nem13 };

  // A 400 record's range of the day.
  struct Override {
    std::uint32_t first = 0, last = 0;  // 1-based inclusive
    QualityMethod quality;
    std::int16_t reason_code = kNoReasonCode;
    std::uint32_t reason_description = 0;  // id in the current batch
  };

  ReaderOptions options;
  ReadingSink& sink;
  FileReport report;

  ReadingBatch batch;
  std::uint64_t batch_generation = 0;
  std::vector<B2BEvent> b2b_events;
  std::vector<RegisterReadPeriod> register_reads;

  // Line assembly across chunks.
  std::string carry;
  bool skip_lf = false;  // the previous chunk ended on '\r': a leading '\n' belongs to it
  bool first_line = true;
  std::uint32_t line_no = 0;
  std::vector<std::string_view> fields;

  // File-level state.
  FileKind kind = FileKind::unknown;
  bool seen_record = false, seen_100 = false, after_900 = false;
  epoch_seconds file_created = kNoTime;

  // Current 200 block.
  struct Block {
    bool active = false, rejected = false;
    std::string nmi, nmi_configuration, register_id, suffix, mdm, meter_serial, uom;
    std::uint16_t interval_minutes = 0;
    std::uint32_t intervals = 0;
    epoch_seconds last_date = kNoTime;
    std::uint32_t line = 0;
    std::uint64_t ids_generation = ~std::uint64_t{0};
    std::uint32_t nmi_id = 0, suffix_id = 0, register_id_id = 0, meter_serial_id = 0, uom_id = 0;
  } block;

  // Current 300 day and its 400s.
  struct Day {
    bool open = false, rejected = false, in_continuation = false;
    bool quality_unknown = false;  // an ignored 400: uncovered intervals are kept as V
    epoch_seconds date = kNoTime;
    std::uint32_t line = 0;
    std::size_t value_begin = 0;
    QualityMethod quality;
    std::int16_t reason_code = kNoReasonCode;
    std::uint32_t reason_description = 0;
    epoch_seconds update_datetime = kNoTime, msats_load_datetime = kNoTime;
    std::vector<Override> overrides;
  } day;
  // The 250 a following 550 completes: none (no 250 just before), kept, or rejected (the 550
  // is then dropped with it).
  enum class Last250 : std::uint8_t { none, kept, rejected } last_250 = Last250::none;

  // The last day of the block that a 500 may refer to.
  epoch_seconds b2b_day = kNoTime;
  bool last_day_rejected = false;

  // Reading counts by quality flag and method, folded into the report's map at the end.
  QualityTally qualities;

  Impl(ReaderOptions opts, ReadingSink& s) : options(std::move(opts)), sink(s) {
    report.name = options.name;
    batch.values.reserve(options.batch_readings + 512);
  }

  static bool all_empty(const std::vector<std::string_view>& fields, std::size_t from) {
    for (std::size_t i = from; i < fields.size(); ++i)
      if (!fields[i].empty()) return false;
    return true;
  }

  // ---- issues (nem12_reader.cpp) -------------------------------------------------------

  Issue make_issue(Severity severity, std::string_view record, std::string field,
                   std::string reason, std::string scope);
  void warn(std::string_view record, std::string field, std::string reason);
  // A real-world quirk: accepted with a warning by default, an error in strict mode.
  // Returns true when the caller should carry on.
  bool quirk(std::string_view record, std::string field, std::string reason);
  void fatal(std::string_view record, std::string field, std::string reason);
  void reject_record(std::string_view record, std::string field, std::string reason);
  void reject_day(std::string_view record, std::string field, std::string reason);
  void reject_block(std::string field, std::string reason);
  // The readings a 300 record claims: the block's intervals, else the values it carries.
  std::uint32_t readings_of_300(std::string_view line);
  // 1440 / the IntervalLength of the 200 in `fields`, 0 if it is not 5, 15 or 30 (the count of
  // a block rejected before its IntervalLength was read).
  std::uint32_t intervals_of_200() const;
  // 5, 15 or 30 for an IntervalLength of "5" ("05"), "15" or "30"; 0 for anything else.
  static std::uint16_t interval_minutes_of(std::string_view length);
  // The line a fatal error was raised on, and every line after it: counted, not read (a 300's
  // readings as rejected; a 200 for the IntervalLength of the 300s after it).
  void count_after_fatal(std::string_view line);
  std::size_t block_issue = ~std::size_t{0};  // the rejected block's issue, to add its readings

  // ---- batches (nem12_reader.cpp) ------------------------------------------------------

  void flush_readings();
  void flush_events();

  void intern_block_ids() {
    if (block.ids_generation == batch_generation) return;
    block.ids_generation = batch_generation;
    block.nmi_id = batch.strings.intern(block.nmi);
    block.suffix_id = batch.strings.intern(block.suffix);
    block.register_id_id = batch.strings.intern(block.register_id);
    block.meter_serial_id = batch.strings.intern(block.meter_serial);
    block.uom_id = batch.strings.intern(block.uom);
  }

  // ---- line assembly and records (nem12_reader.cpp) ------------------------------------

  void feed(std::string_view chunk);
  void finish();
  void process_line(std::string_view line);

  static const char* find_eol(const char* p, const char* end) {
    // memchr is vectorised; a lone CR (old Mac files) is rare, so look for it only up to the
    // next LF.
    const void* lf = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    const char* stop = lf ? static_cast<const char*>(lf) : end;
    const void* cr = std::memchr(p, '\r', static_cast<std::size_t>(stop - p));
    return cr ? static_cast<const char*>(cr) : stop;
  }

  const char* consume_eol(const char* eol, const char* end) {
    if (*eol == '\r') {
      if (eol + 1 == end) {
        skip_lf = true;
        return end;
      }
      if (eol[1] == '\n') return eol + 2;
    }
    return eol + 1;
  }

  // First data record decides NEM12/NEM13 when there is no 100; mixing them is fatal.
  bool check_kind(FileKind wanted, std::string_view record);
  // Records after a 900: a concatenated file (Powercor) in default mode, fatal in strict.
  bool before_record(std::string_view record);
  void parse_100();
  void parse_900();

  // Field i trimmed, with a warning (or strict error) when it had surrounding whitespace.
  bool field(std::size_t i, std::string_view record, const char* name, std::string_view& out) {
    if (i >= fields.size()) {
      out = {};
      return true;
    }
    bool trimmed = false;
    out = mdff::trim(fields[i], trimmed);
    if (trimmed) return quirk(record, name, std::string("whitespace around ") + name);
    return true;
  }

  // ---- the interval day: 200, 300, 400, 500 (nem12_day.cpp) ----------------------------

  void parse_200();
  void parse_300(std::string_view line);
  void too_few_values(std::uint32_t seen);
  bool parse_value_slow(std::string_view text, std::uint32_t k, double& out);
  // QualityMethod, ReasonCode, ReasonDescription, UpdateDateTime, MSATSLoadDateTime, padding.
  void parse_300_tail(std::string_view tail);
  bool check_reason(std::string_view record, QualityMethod qm, std::string_view text,
                    std::int16_t& code);
  bool parse_version_time(std::string_view text, const char* name, epoch_seconds& out,
                          bool mandatory);
  void parse_400(std::string_view line);
  void end_day();
  void commit_day();
  void parse_500();

  // ---- NEM13: 250, 550 (nem13_records.cpp) ---------------------------------------------

  void parse_250();
  void parse_550();
};

}  // namespace meterd
