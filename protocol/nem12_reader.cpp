#include "protocol/nem12_reader.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "protocol/mdff_fields.hpp"
#include "protocol/nem_time.hpp"

namespace meterd {
namespace {

using mdff::QualityMethod;

enum class FileKind : std::uint8_t { unknown, nem12, nem13 };

// Record indicators that may start a line. Anything else inside a day is the tail of a record
// that was split over several lines.
bool is_known_record(std::string_view indicator) {
  return indicator == "100" || indicator == "200" || indicator == "300" || indicator == "400" ||
         indicator == "500" || indicator == "900" || indicator == "250" || indicator == "550";
}

bool all_empty(const std::vector<std::string_view>& fields, std::size_t from) {
  for (std::size_t i = from; i < fields.size(); ++i)
    if (!fields[i].empty()) return false;
  return true;
}

struct Override {
  std::uint32_t first = 0, last = 0;  // 1-based inclusive
  QualityMethod quality;
  std::int16_t reason_code = kNoReasonCode;
  std::uint32_t reason_description = 0;  // id in the current batch
};

}  // namespace

struct Nem12Reader::Impl {
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

  // ---- issues --------------------------------------------------------------------------

  Issue make_issue(Severity severity, std::string_view record, std::string field,
                   std::string reason, std::string scope) {
    Issue issue;
    issue.severity = severity;
    issue.line = line_no;
    issue.record = std::string(record);
    issue.field = std::move(field);
    issue.reason = std::move(reason);
    issue.scope = std::move(scope);
    if (block.active) {
      issue.nmi = block.nmi;
      issue.suffix = block.suffix;
    }
    return issue;
  }

  void warn(std::string_view record, std::string field, std::string reason) {
    report.add(make_issue(Severity::warning, record, std::move(field), std::move(reason), ""));
  }

  // A real-world quirk: accepted with a warning by default, an error in strict mode.
  // Returns true when the caller should carry on.
  bool quirk(std::string_view record, std::string field, std::string reason) {
    if (!options.strict) {
      warn(record, std::move(field), std::move(reason));
      return true;
    }
    if (record == "300" || record == "400") {
      reject_day(record, std::move(field), reason + " (strict mode)");
    } else if (record == "200") {
      reject_block(std::move(field), reason + " (strict mode)");
    } else if (record == "100" || record == "900") {
      fatal(record, std::move(field), reason + " (strict mode)");
    } else {
      reject_record(record, std::move(field), reason + " (strict mode)");
    }
    return false;
  }

  void fatal(std::string_view record, std::string field, std::string reason) {
    report.add(make_issue(Severity::fatal, record, std::move(field), std::move(reason), "file"));
  }

  void reject_record(std::string_view record, std::string field, std::string reason) {
    ++report.rejected_records;
    report.add(make_issue(Severity::reject, record, std::move(field), std::move(reason), "record"));
  }

  void reject_day(std::string_view record, std::string field, std::string reason) {
    if (!day.open || day.rejected) return;
    day.rejected = true;
    const auto dropped = static_cast<std::uint32_t>(batch.values.size() - day.value_begin);
    batch.values.resize(day.value_begin);
    ++report.rejected_days;
    Issue issue = make_issue(Severity::reject, record, std::move(field), std::move(reason), "day");
    issue.interval_date = day.date == kNoTime ? "" : format_nem_date(day.date);
    issue.readings_dropped = dropped ? dropped : block.intervals;
    report.readings_rejected += issue.readings_dropped;
    report.add(std::move(issue));
  }

  void reject_block(std::string field, std::string reason) {
    block.rejected = true;
    ++report.rejected_blocks;
    report.add(make_issue(Severity::reject, "200", std::move(field), std::move(reason), "block"));
  }

  // ---- batches -------------------------------------------------------------------------

  void flush_readings() {
    if (!batch.runs.empty()) {
      sink.on_readings(batch);
      batch.clear();
      ++batch_generation;
      if (batch.values.capacity() < options.batch_readings)
        batch.values.reserve(options.batch_readings + 512);
    }
  }

  void flush_events() {
    if (!b2b_events.empty()) sink.on_b2b_events(b2b_events);
    b2b_events.clear();
    if (!register_reads.empty()) sink.on_register_reads(register_reads);
    register_reads.clear();
  }

  void intern_block_ids() {
    if (block.ids_generation == batch_generation) return;
    block.ids_generation = batch_generation;
    block.nmi_id = batch.strings.intern(block.nmi);
    block.suffix_id = batch.strings.intern(block.suffix);
    block.register_id_id = batch.strings.intern(block.register_id);
    block.meter_serial_id = batch.strings.intern(block.meter_serial);
    block.uom_id = batch.strings.intern(block.uom);
  }

  // ---- line assembly -------------------------------------------------------------------

  void feed(std::string_view chunk) {
    report.bytes += chunk.size();
    if (report.fatal || chunk.empty()) return;
    const char* p = chunk.data();
    const char* const end = p + chunk.size();
    if (skip_lf) {
      skip_lf = false;
      if (*p == '\n') ++p;
    }
    // A line straddling the previous chunk is completed in `carry`.
    if (!carry.empty()) {
      const char* eol = find_eol(p, end);
      carry.append(p, eol);
      if (eol == end) return;
      p = consume_eol(eol, end);
      process_line(carry);
      carry.clear();
    }
    while (p < end && !report.fatal) {
      const char* eol = find_eol(p, end);
      if (eol == end) {
        carry.assign(p, end);
        return;
      }
      // Lines wholly inside the chunk are parsed in place; the byte at eol is a line break,
      // which the fast number parser relies on as a terminator.
      std::string_view line(p, static_cast<std::size_t>(eol - p));
      p = consume_eol(eol, end);
      process_line(line);
    }
  }

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

  void finish() {
    if (!carry.empty() && !report.fatal) {
      process_line(carry);  // std::string keeps a NUL after the data: the parser's terminator
      carry.clear();
    }
    if (!report.fatal) {
      end_day();
      if (!seen_record) {
        fatal("", "", report.bytes == 0 ? "empty file" : "no MDFF records in file");
      } else if (!report.saw_900) {
        if (options.strict) {
          report.add(make_issue(Severity::reject, "900", "RecordIndicator",
                                "no 900 end record: file may be incomplete", "file"));
        } else {
          warn("900", "RecordIndicator", "no 900 end record: file may be incomplete");
        }
      }
    }
    flush_readings();
    flush_events();
    report.lines = line_no;
    qualities.fold_into(report);
  }

  // ---- records -------------------------------------------------------------------------

  void process_line(std::string_view line) {
    ++line_no;
    if (first_line) {
      first_line = false;
      if (line.substr(0, 3) == "\xEF\xBB\xBF") {
        line.remove_prefix(3);
        quirk("", "", "UTF-8 byte order mark at start of file");
        if (report.fatal) return;
      }
    }
    // Blank lines, and Excel's rows of nothing but commas.
    if (line.find_first_not_of(", \t") == std::string_view::npos) {
      quirk("", "", "blank line ignored");
      return;
    }
    std::string_view indicator = line.substr(0, line.find(','));
    bool padded = false;
    std::string_view bare = mdff::trim(indicator, padded);

    if (day.in_continuation) {
      if (!is_known_record(bare)) {
        // Dropped with the day it belongs to (already reported there).
        warn("", "RecordIndicator", "line continuing a record split over several lines ignored");
        return;
      }
      day.in_continuation = false;
    }
    if (padded && !quirk(bare, "RecordIndicator", "whitespace around record indicator")) return;

    if (bare == "300" && !padded) {
      // The hot path: nothing before the fast 300 parser.
      if (!check_kind(FileKind::nem12, bare)) return;
      parse_300(line);
      return;
    }
    if (bare == "400") {
      if (!check_kind(FileKind::nem12, bare)) return;
      parse_400(line);
      return;
    }
    if (bare == "300") {  // padded indicator, quirk accepted: parse a normalised copy
      if (!check_kind(FileKind::nem12, bare)) return;
      const std::size_t comma = line.find(',');
      std::string copy = "300";
      if (comma != std::string_view::npos) copy.append(line.substr(comma));
      parse_300(copy);
      return;
    }
    end_day();
    if (bare != "550") last_250 = Last250::none;  // a 550 must follow its 250 directly
    mdff::split_fields(line, fields);
    fields[0] = bare;
    if (bare == "100") {
      parse_100();
    } else if (bare == "200") {
      if (check_kind(FileKind::nem12, bare)) parse_200();
    } else if (bare == "500") {
      if (check_kind(FileKind::nem12, bare)) parse_500();
    } else if (bare == "250") {
      if (check_kind(FileKind::nem13, bare)) parse_250();
    } else if (bare == "550") {
      if (check_kind(FileKind::nem13, bare)) parse_550();
    } else if (bare == "900") {
      parse_900();
    } else {
      const bool numeric = bare.size() == 3 && std::all_of(bare.begin(), bare.end(), [](char c) {
                             return c >= '0' && c <= '9';
                           });
      reject_record(bare, "RecordIndicator",
                    numeric ? "unknown record indicator '" + std::string(bare) + "'"
                            : "line does not start with a record indicator");
    }
  }

  // First data record decides NEM12/NEM13 when there is no 100; mixing them is fatal.
  bool check_kind(FileKind wanted, std::string_view record) {
    if (!before_record(record)) return false;
    if (kind == FileKind::unknown) {
      if (!seen_100) {
        const std::string reason = std::string("no 100 header record: assuming ") +
                                   (wanted == FileKind::nem12 ? "NEM12" : "NEM13");
        if (options.strict) {
          fatal(record, "RecordIndicator", "no 100 header record (strict mode)");
          return false;
        }
        warn(record, "RecordIndicator", reason);
        seen_100 = true;  // the assumption stands for the rest of the file
      }
      kind = wanted;
    }
    if (kind != wanted) {
      fatal(record, "RecordIndicator",
            std::string(wanted == FileKind::nem12 ? "NEM12" : "NEM13") + " record " +
                std::string(record) + " in a " + (kind == FileKind::nem12 ? "NEM12" : "NEM13") +
                " file");
      return false;
    }
    return true;
  }

  // Records after a 900: a concatenated file (Powercor) in default mode, fatal in strict.
  bool before_record(std::string_view record) {
    seen_record = true;
    if (!after_900) return true;
    if (options.strict) {
      fatal(record, "RecordIndicator", "record after the 900 end record");
      return false;
    }
    warn(record, "RecordIndicator", "records after a 900 end record: read as a further section");
    after_900 = false;
    block = Block{};
    return true;
  }

  void parse_100() {
    const bool new_section = after_900;
    if (!before_record("100")) return;
    if (seen_100 && !new_section) {
      fatal("100", "RecordIndicator",
            report.version_header.empty() ? "100 header record after data records"
                                          : "second 100 header record without a 900 before it");
      return;
    }
    seen_100 = true;
    bool trimmed = false;
    const std::string_view version = fields.size() > 1 ? mdff::trim(fields[1], trimmed) : "";
    if (version == "NEM12" || version == "NEM13") {
      const FileKind declared = version == "NEM12" ? FileKind::nem12 : FileKind::nem13;
      if (kind != FileKind::unknown && kind != declared) {
        fatal(
            "100", "VersionHeader",
            "section header " + std::string(version) + " differs from the file's earlier records");
        return;
      }
      kind = declared;
    } else {
      fatal("100", "VersionHeader",
            "VersionHeader '" + std::string(version) + "' is neither NEM12 nor NEM13");
      return;
    }
    report.version_header = std::string(version);
    const std::string_view created = fields.size() > 2 ? mdff::trim(fields[2], trimmed) : "";
    bool twelve = false;
    if (!parse_nem_datetime(created, file_created, &twelve)) {
      file_created = kNoTime;
      warn("100", "DateTime", "file creation DateTime missing or invalid");
    } else if (!twelve) {
      quirk("100", "DateTime", "DateTime has 14 digits where 12 are specified");
    }
    report.file_created = file_created;
    if (fields.size() > 3) report.from_participant = std::string(mdff::trim(fields[3], trimmed));
    if (fields.size() > 4) report.to_participant = std::string(mdff::trim(fields[4], trimmed));
    if (fields.size() > 5 && all_empty(fields, 5)) {
      quirk("100", "", "trailing empty fields (Excel padding)");
    } else if (fields.size() > 5) {
      warn("100", "", "unexpected fields after ToParticipant ignored");
    }
  }

  void parse_900() {
    if (!before_record("900")) return;
    end_day();
    report.saw_900 = true;
    after_900 = true;
    if (fields.size() > 1) {
      if (all_empty(fields, 1)) {
        quirk("900", "", "trailing empty fields (Excel padding)");
      } else {
        warn("900", "", "unexpected fields in 900 record ignored");
      }
    }
    flush_events();
  }

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

  void parse_200() {
    block = Block{};
    block.active = true;
    block.line = line_no;
    b2b_day = kNoTime;
    last_day_rejected = false;
    ++report.blocks;
    std::string_view nmi, config, reg, suffix, mdm, serial, uom, interval, nsrd;
    if (!field(1, "200", "NMI", nmi) || !field(2, "200", "NMIConfiguration", config) ||
        !field(3, "200", "RegisterID", reg) || !field(4, "200", "NMISuffix", suffix) ||
        !field(5, "200", "MDMDataStreamIdentifier", mdm) ||
        !field(6, "200", "MeterSerialNumber", serial) || !field(7, "200", "UOM", uom) ||
        !field(8, "200", "IntervalLength", interval) ||
        !field(9, "200", "NextScheduledReadDate", nsrd)) {
      block.rejected = true;
      return;
    }
    block.nmi = nmi;
    block.suffix = suffix;
    block.nmi_configuration = config;
    block.register_id = reg;
    block.mdm = mdm;
    block.meter_serial = serial;
    if (fields.size() < 9)
      return reject_block("IntervalLength", "200 record has " + std::to_string(fields.size()) +
                                                " fields, at least 9 required");
    if (nmi.empty()) return reject_block("NMI", "NMI is empty");
    if (nmi.size() != 10) warn("200", "NMI", "NMI is not 10 characters");
    if (suffix.size() != 2)
      return reject_block("NMISuffix",
                          "NMISuffix '" + std::string(suffix) + "' is not 2 characters");
    if (config.empty()) return reject_block("NMIConfiguration", "NMIConfiguration is empty");
    bool listed = false;
    for (std::size_t i = 0; i + 2 <= config.size() && !listed; i += 2)
      listed = config.substr(i, 2) == suffix;
    if (!listed)
      return reject_block("NMIConfiguration", "NMISuffix '" + std::string(suffix) +
                                                  "' is not in NMIConfiguration '" +
                                                  std::string(config) + "'");
    const std::string_view unit = mdff::canonical_uom(uom);
    if (unit.empty())
      return reject_block("UOM", "UOM '" + std::string(uom) + "' is not a known unit");
    block.uom = unit;
    if (interval == "5" || interval == "15" || interval == "30") {
      block.interval_minutes = static_cast<std::uint16_t>(interval == "5"    ? 5
                                                          : interval == "15" ? 15
                                                                             : 30);
    } else if (interval == "05") {
      if (!quirk("200", "IntervalLength", "IntervalLength written as '05'")) return;
      block.interval_minutes = 5;
    } else {
      return reject_block("IntervalLength",
                          "IntervalLength '" + std::string(interval) + "' is not 5, 15 or 30");
    }
    block.intervals = 1440u / block.interval_minutes;
    if (!nsrd.empty()) {
      epoch_seconds ignored;
      if (!parse_nem_date(nsrd, ignored))
        warn("200", "NextScheduledReadDate", "NextScheduledReadDate is not a valid date");
    }
    if (fields.size() == 9) {
      quirk("200", "NextScheduledReadDate",
            "200 record has 9 fields (NextScheduledReadDate omitted)");
    } else if (fields.size() > 10) {
      if (all_empty(fields, 10)) {
        quirk("200", "", "trailing empty fields (Excel padding)");
      } else {
        warn("200", "", "unexpected fields after NextScheduledReadDate ignored");
      }
    }
  }

  // ---- 300: the hot path ---------------------------------------------------------------

  void parse_300(std::string_view line) {
    end_day();
    if (!block.active) {
      ++report.rejected_days;
      report.add(make_issue(Severity::reject, "300", "RecordIndicator",
                            "300 record without a preceding 200 record", "day"));
      return;
    }
    ++report.days;
    day.open = true;
    day.rejected = false;
    day.line = line_no;
    day.date = kNoTime;
    day.overrides.clear();
    day.value_begin = batch.values.size();
    if (block.rejected) {
      // Part of a rejected block: dropped, and counted with it.
      day.rejected = true;
      ++report.rejected_days;
      return;
    }
    if (line.size() < 4) return reject_day("300", "IntervalDate", "300 record has no IntervalDate");
    const char* p = line.data() + 4;  // past "300,"
    const char* const end = line.data() + line.size();
    // IntervalDate
    const char* comma =
        static_cast<const char*>(std::memchr(p, ',', static_cast<std::size_t>(end - p)));
    std::string_view date_text(p, static_cast<std::size_t>((comma ? comma : end) - p));
    bool trimmed = false;
    date_text = mdff::trim(date_text, trimmed);
    if (trimmed && !quirk("300", "IntervalDate", "whitespace around IntervalDate")) return;
    if (!parse_nem_date(date_text, day.date)) {
      day.date = kNoTime;
      return reject_day(
          "300", "IntervalDate",
          "IntervalDate '" + std::string(date_text) + "' is not a valid CCYYMMDD date");
    }
    if (block.last_date != kNoTime && day.date <= block.last_date)
      return reject_day("300", "IntervalDate",
                        "IntervalDate " + std::string(date_text) +
                            " is not after the previous day of this 200 block");
    if (!comma) return reject_day("300", "IntervalValue1", "300 record has no interval values");
    p = comma + 1;

    // Interval values, by position from the 200's IntervalLength.
    const std::uint32_t n = block.intervals;
    batch.values.resize(day.value_begin + n);
    double* out = batch.values.data() + day.value_begin;
    for (std::uint32_t k = 0; k < n; ++k) {
      const char* next = p < end ? mdff::parse_decimal_fast(p, out[k]) : nullptr;
      if (next && (next == end || *next == ',') && next < end) {
        p = next + 1;
        continue;
      }
      if (next && next == end) {
        // The line ends right after a value.
        if (k + 1 < n) return too_few_values(k + 1);
        return reject_day("300", "QualityMethod",
                          "QualityMethod missing after the interval values");
      }
      // Slow path: whitespace, a bad number, or the end of the values.
      if (p >= end) return too_few_values(k);
      const char* field_end =
          static_cast<const char*>(std::memchr(p, ',', static_cast<std::size_t>(end - p)));
      if (!field_end) field_end = end;
      std::string_view text(p, static_cast<std::size_t>(field_end - p));
      if (!parse_value_slow(text, k, out[k])) return;
      if (field_end == end) {
        if (k + 1 < n) return too_few_values(k + 1);
        p = end + 1;  // past the end: no QualityMethod
        break;
      }
      p = field_end + 1;
    }
    if (p > end)
      return reject_day("300", "QualityMethod", "QualityMethod missing after the interval values");
    parse_300_tail(std::string_view(p, static_cast<std::size_t>(end - p)));
  }

  void too_few_values(std::uint32_t seen) {
    day.in_continuation = true;  // the rest of the record may follow on the next lines
    reject_day("300", "IntervalValue" + std::to_string(seen + 1),
               "300 record ends after " + std::to_string(seen) +
                   " interval values; IntervalLength " + std::to_string(block.interval_minutes) +
                   " requires " + std::to_string(block.intervals) +
                   " (record truncated or split over lines?)");
  }

  bool parse_value_slow(std::string_view text, std::uint32_t k, double& out) {
    const std::string name = "IntervalValue" + std::to_string(k + 1);
    bool trimmed = false;
    std::string_view bare = mdff::trim(text, trimmed);
    switch (mdff::parse_decimal(bare, out)) {
      case mdff::NumberError::ok:
        if (trimmed) return quirk("300", name, "whitespace around interval value");
        return true;
      case mdff::NumberError::empty:
        reject_day("300", name, name + " is empty");
        return false;
      case mdff::NumberError::negative:
        reject_day("300", name, name + " '" + std::string(bare) + "' is negative");
        return false;
      case mdff::NumberError::not_a_number: {
        QualityMethod qm;
        if (mdff::parse_quality_method(bare, qm)) {
          reject_day("300", name,
                     "300 record has " + std::to_string(k) + " interval values; IntervalLength " +
                         std::to_string(block.interval_minutes) + " requires " +
                         std::to_string(block.intervals));
        } else {
          reject_day("300", name, name + " '" + std::string(bare) + "' is not a number");
        }
        return false;
      }
    }
    return false;
  }

  // QualityMethod, ReasonCode, ReasonDescription, UpdateDateTime, MSATSLoadDateTime, padding.
  void parse_300_tail(std::string_view tail) {
    mdff::split_fields(tail, fields);
    std::string_view quality, reason, description, update, msats;
    if (!field(0, "300", "QualityMethod", quality)) return;
    if (!mdff::parse_quality_method(quality, day.quality)) {
      double ignored;
      if (mdff::parse_decimal(quality, ignored) == mdff::NumberError::ok)
        return reject_day("300", "QualityMethod",
                          "more interval values than IntervalLength " +
                              std::to_string(block.interval_minutes) + " allows (" +
                              std::to_string(block.intervals) + ")");
      return reject_day("300", "QualityMethod",
                        "QualityMethod '" + std::string(quality) + "' is not valid");
    }
    if (!field(1, "300", "ReasonCode", reason) ||
        !check_reason("300", day.quality, reason, day.reason_code))
      return;
    // Free text is kept as sent (trailing spaces included); only its emptiness is checked.
    description = fields.size() > 2 ? fields[2] : std::string_view{};
    bool padded = false;
    if (day.reason_code == 0 && mdff::trim(description, padded).empty())
      return reject_day("300", "ReasonDescription", "ReasonCode 0 requires a ReasonDescription");
    day.reason_description = batch.strings.intern(description);
    if (!field(3, "300", "UpdateDateTime", update)) return;
    if (!parse_version_time(update, "UpdateDateTime", day.update_datetime, true)) return;
    if (fields.size() <= 4) {
      day.msats_load_datetime = kNoTime;
      if (fields.size() == 4) quirk("300", "MSATSLoadDateTime", "MSATSLoadDateTime column absent");
    } else {
      if (!field(4, "300", "MSATSLoadDateTime", msats)) return;
      if (!parse_version_time(msats, "MSATSLoadDateTime", day.msats_load_datetime, false)) return;
    }
    if (fields.size() > 5) {
      if (!all_empty(fields, 5))
        return reject_day("300", "MSATSLoadDateTime",
                          "unexpected non-empty fields after MSATSLoadDateTime");
      quirk("300", "", "trailing empty fields (Excel padding)");
    }
  }

  bool check_reason(std::string_view record, QualityMethod qm, std::string_view text,
                    std::int16_t& code) {
    bool empty = false;
    code = kNoReasonCode;
    if (!mdff::parse_reason_code(text, code, empty) && !empty) {
      reject_day(record, "ReasonCode", "ReasonCode '" + std::string(text) + "' is not a number");
      return false;
    }
    if (empty) code = kNoReasonCode;
    if (qm.quality == 'V' && !empty)
      return quirk(record, "ReasonCode", "ReasonCode must be blank when QualityMethod is V");
    if ((qm.quality == 'F' || qm.quality == 'S') && empty) {
      reject_day(record, "ReasonCode",
                 std::string("ReasonCode is required for quality flag ") + qm.quality);
      return false;
    }
    return true;
  }

  bool parse_version_time(std::string_view text, const char* name, epoch_seconds& out,
                          bool mandatory) {
    out = kNoTime;
    if (text.empty()) {
      if (mandatory) {
        if (!quirk("300", name, std::string(name) + " missing: version falls back to file time"))
          return false;
      }
      return true;
    }
    bool twelve = false;
    if (!parse_nem_datetime(text, out, &twelve)) {
      out = kNoTime;
      if (!mandatory) {
        warn("300", name, std::string(name) + " is not a valid DateTime(14): ignored");
        return true;
      }
      reject_day("300", name,
                 std::string(name) + " '" + std::string(text) + "' is not a valid DateTime(14)");
      return false;
    }
    if (twelve)
      return quirk("300", name, std::string(name) + " has 12 digits: seconds taken as 00");
    return true;
  }

  // ---- 400 -----------------------------------------------------------------------------

  void parse_400(std::string_view line) {
    if (!day.open) {
      reject_record("400", "RecordIndicator", "400 record not directly after a 300 day");
      return;
    }
    if (day.rejected) return;  // part of a day already rejected
    mdff::split_fields(line, fields);
    std::string_view first, last, quality, reason;
    if (!field(1, "400", "StartInterval", first) || !field(2, "400", "EndInterval", last) ||
        !field(3, "400", "QualityMethod", quality) || !field(4, "400", "ReasonCode", reason))
      return;
    const std::string_view description = fields.size() > 5 ? fields[5] : std::string_view{};
    Override o;
    auto interval_number = [&](std::string_view text, std::uint32_t& v) {
      v = 0;
      if (text.empty() || text.size() > 4) return false;
      for (char c : text) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint32_t>(c - '0');
      }
      return v >= 1 && v <= block.intervals;
    };
    if (!interval_number(first, o.first))
      return reject_day("400", "StartInterval",
                        "StartInterval '" + std::string(first) + "' is not in 1.." +
                            std::to_string(block.intervals));
    if (!interval_number(last, o.last) || o.last < o.first)
      return reject_day("400", "EndInterval",
                        "EndInterval '" + std::string(last) + "' is not in " +
                            std::to_string(o.first) + ".." + std::to_string(block.intervals));
    const std::uint32_t previous_last = day.overrides.empty() ? 0 : day.overrides.back().last;
    if (o.first <= previous_last)
      return reject_day("400", "StartInterval",
                        "400 ranges overlap or are not ascending (StartInterval " +
                            std::to_string(o.first) + " after EndInterval " +
                            std::to_string(previous_last) + ")");
    if (o.first != previous_last + 1 && (day.quality.quality == 'V' || options.strict))
      return reject_day("400", "StartInterval",
                        "gap in 400 ranges: intervals " + std::to_string(previous_last + 1) + ".." +
                            std::to_string(o.first - 1) + " not covered");
    if (!mdff::parse_quality_method(quality, o.quality) || o.quality.quality == 'V')
      return reject_day("400", "QualityMethod",
                        "QualityMethod '" + std::string(quality) +
                            "' is not valid in a 400 record" +
                            (quality == "V" ? " (V is only allowed on a 300)" : ""));
    if (!check_reason("400", o.quality, reason, o.reason_code)) return;
    bool padded = false;
    if (o.reason_code == 0 && mdff::trim(description, padded).empty())
      return reject_day("400", "ReasonDescription", "ReasonCode 0 requires a ReasonDescription");
    o.reason_description = batch.strings.intern(description);
    if (fields.size() > 6 && !all_empty(fields, 6))
      return reject_day("400", "", "unexpected non-empty fields after ReasonDescription");
    day.overrides.push_back(o);
  }

  // ---- committing a day ----------------------------------------------------------------

  void end_day() {
    if (!day.open) return;
    day.open = false;
    last_day_rejected = day.rejected;
    if (day.rejected) return;
    if (day.quality.quality == 'V') {
      const std::uint32_t covered = day.overrides.empty() ? 0 : day.overrides.back().last;
      if (covered != block.intervals) {
        day.open = true;  // reject_day works on the open day
        reject_day("300", "QualityMethod",
                   "QualityMethod V but the 400 records cover " + std::to_string(covered) + " of " +
                       std::to_string(block.intervals) + " intervals");
        day.open = false;
        return;
      }
    } else if (!day.overrides.empty() && day.quality.quality != 'A') {
      warn("400", "QualityMethod", "400 records override a 300 whose QualityMethod is not V");
    }
    commit_day();
  }

  void commit_day() {
    intern_block_ids();
    ReadingRun run;
    run.nmi = block.nmi_id;
    run.suffix = block.suffix_id;
    run.register_id = block.register_id_id;
    run.meter_serial = block.meter_serial_id;
    run.uom = block.uom_id;
    run.interval_minutes = block.interval_minutes;
    run.line = day.line;
    run.update_datetime = day.update_datetime;
    run.msats_load_datetime = day.msats_load_datetime;
    run.file_created = file_created;
    run.file_sequence = options.file_sequence;
    const auto begin = static_cast<std::uint32_t>(day.value_begin);
    const epoch_seconds step = static_cast<epoch_seconds>(block.interval_minutes) * 60;
    auto add_run = [&](std::uint32_t first, std::uint32_t last, QualityMethod qm,
                       std::int16_t reason, std::uint32_t description) {
      run.first_value = begin + first - 1;
      run.count = last - first + 1;
      run.first_start = day.date + static_cast<epoch_seconds>(first - 1) * step;
      run.quality = qm.quality;
      run.method = qm.method;
      run.reason_code = reason;
      run.reason_description = description;
      batch.runs.push_back(run);
      qualities.add(qm.quality, qm.method, run.count);
    };
    std::uint32_t next = 1;
    for (const Override& o : day.overrides) {
      if (o.first > next)
        add_run(next, o.first - 1, day.quality, day.reason_code, day.reason_description);
      add_run(o.first, o.last, o.quality, o.reason_code, o.reason_description);
      next = o.last + 1;
    }
    if (next <= block.intervals)
      add_run(next, block.intervals, day.quality, day.reason_code, day.reason_description);
    // Four partial sums: one accumulator would chain every addition on the previous one.
    double partial[4] = {0, 0, 0, 0};
    const double* v = batch.values.data() + day.value_begin;
    const std::size_t n = batch.values.size() - day.value_begin;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int j = 0; j < 4; ++j) partial[j] += v[i + j];
    for (; i < n; ++i) partial[0] += v[i];
    report.value_sum += (partial[0] + partial[1]) + (partial[2] + partial[3]);
    report.readings += block.intervals;
    block.last_date = day.date;
    b2b_day = day.date;
    if (batch.values.size() >= options.batch_readings) flush_readings();
  }

  // ---- 500 / NEM13 ---------------------------------------------------------------------

  void parse_500() {
    if (block.rejected || last_day_rejected) return;  // dropped with its day or block
    if (!block.active || b2b_day == kNoTime) {
      reject_record("500", "RecordIndicator", "500 record without a preceding 300 day");
      return;
    }
    std::string_view code, order, read_time, index_read;
    if (!field(1, "500", "TransCode", code) || !field(2, "500", "RetServiceOrder", order) ||
        !field(3, "500", "ReadDateTime", read_time) || !field(4, "500", "IndexRead", index_read))
      return;
    if (!mdff::is_b2b_trans_code(code))
      return reject_record("500", "TransCode",
                           "TransCode '" + std::string(code) + "' is not one of A C G D E N O S R");
    B2BEvent event;
    event.nmi = block.nmi;
    event.suffix = block.suffix;
    event.interval_date = b2b_day;
    event.trans_code = code[0];
    event.ret_service_order = order;
    if (!read_time.empty() && !parse_nem_datetime(read_time, event.read_datetime)) {
      event.read_datetime = kNoTime;
      warn("500", "ReadDateTime", "ReadDateTime is not a valid DateTime(14): ignored");
    }
    event.index_read = index_read;
    event.file_created = file_created;
    event.line = line_no;
    if (fields.size() > 5 && !all_empty(fields, 5))
      warn("500", "", "unexpected fields after IndexRead ignored");
    b2b_events.push_back(std::move(event));
    ++report.b2b_events;
    if (b2b_events.size() >= 4096) flush_events();
  }

  void parse_250() {
    // Until this record is complete, a following 550 belongs to a rejected 250.
    last_250 = Last250::rejected;
    // Flushed here, not after the record: the 550 that may follow needs its 250 at hand.
    if (register_reads.size() >= 4096) flush_events();
    RegisterReadPeriod r;
    std::string_view f[23];
    static constexpr const char* kNames[23] = {"RecordIndicator",
                                               "NMI",
                                               "NMIConfiguration",
                                               "RegisterID",
                                               "NMISuffix",
                                               "MDMDataStreamIdentifier",
                                               "MeterSerialNumber",
                                               "DirectionIndicator",
                                               "PreviousRegisterRead",
                                               "PreviousRegisterReadDateTime",
                                               "PreviousQualityMethod",
                                               "PreviousReasonCode",
                                               "PreviousReasonDescription",
                                               "CurrentRegisterRead",
                                               "CurrentRegisterReadDateTime",
                                               "CurrentQualityMethod",
                                               "CurrentReasonCode",
                                               "CurrentReasonDescription",
                                               "Quantity",
                                               "UOM",
                                               "NextScheduledReadDate",
                                               "UpdateDateTime",
                                               "MSATSLoadDateTime"};
    for (std::size_t i = 1; i < 23; ++i)
      if (!field(i, "250", kNames[i], f[i])) return;
    if (fields.size() < 22)
      return reject_record(
          "250", kNames[std::min<std::size_t>(fields.size(), 22)],
          "250 record has " + std::to_string(fields.size()) + " fields, at least 22 required");
    if (fields.size() > 23 && !all_empty(fields, 23))
      return reject_record("250", "", "unexpected non-empty fields after MSATSLoadDateTime");
    if (f[1].empty()) return reject_record("250", "NMI", "NMI is empty");
    r.nmi = f[1];
    r.nmi_configuration = f[2];
    r.register_id = f[3];
    r.suffix = f[4];
    r.mdm_stream = f[5];
    r.meter_serial = f[6];
    r.direction = f[7].empty() ? 0 : f[7][0];
    r.previous_read = f[8];
    r.current_read = f[13];
    auto read_time = [&](std::size_t i, epoch_seconds& out, bool mandatory) {
      if (f[i].empty() && !mandatory) return true;
      bool twelve = false;
      if (parse_nem_datetime(f[i], out, &twelve)) {
        if (twelve) return quirk("250", kNames[i], std::string(kNames[i]) + " has 12 digits");
        return true;
      }
      reject_record(
          "250", kNames[i],
          std::string(kNames[i]) + " '" + std::string(f[i]) + "' is not a valid DateTime(14)");
      return false;
    };
    if (!read_time(9, r.previous_read_datetime, true) ||
        !read_time(14, r.current_read_datetime, true))
      return;
    QualityMethod previous_qm, current_qm;
    if (!mdff::parse_quality_method(f[10], previous_qm) || previous_qm.quality == 'V')
      return reject_record("250", kNames[10],
                           "PreviousQualityMethod '" + std::string(f[10]) + "' is not valid");
    if (!mdff::parse_quality_method(f[15], current_qm) || current_qm.quality == 'V')
      return reject_record("250", kNames[15],
                           "CurrentQualityMethod '" + std::string(f[15]) + "' is not valid");
    r.previous_quality_method = f[10];
    r.current_quality_method = f[15];
    bool empty = false;
    if (!mdff::parse_reason_code(f[11], r.previous_reason_code, empty) && !empty)
      return reject_record("250", kNames[11],
                           "PreviousReasonCode '" + std::string(f[11]) + "' is not a number");
    if (!mdff::parse_reason_code(f[16], r.current_reason_code, empty) && !empty)
      return reject_record("250", kNames[16],
                           "CurrentReasonCode '" + std::string(f[16]) + "' is not a number");
    r.previous_reason_description = f[12];
    r.current_reason_description = f[17];
    switch (mdff::parse_decimal(f[18], r.quantity)) {
      case mdff::NumberError::ok:
        break;
      case mdff::NumberError::empty:
        return reject_record("250", kNames[18], "Quantity is empty");
      case mdff::NumberError::negative:
        return reject_record("250", kNames[18],
                             "Quantity '" + std::string(f[18]) + "' is negative");
      case mdff::NumberError::not_a_number:
        return reject_record("250", kNames[18],
                             "Quantity '" + std::string(f[18]) + "' is not a number");
    }
    const std::string_view unit = mdff::canonical_uom(f[19]);
    if (unit.empty())
      return reject_record("250", kNames[19],
                           "UOM '" + std::string(f[19]) + "' is not a known unit");
    r.uom = unit;
    if (!f[20].empty() && !parse_nem_date(f[20], r.next_scheduled_read)) {
      r.next_scheduled_read = kNoTime;
      warn("250", kNames[20], "NextScheduledReadDate is not a valid date");
    }
    if (!read_time(21, r.update_datetime, false)) return;
    if (!f[22].empty() && !parse_nem_datetime(f[22], r.msats_load_datetime)) {
      r.msats_load_datetime = kNoTime;
      warn("250", kNames[22], "MSATSLoadDateTime is not a valid DateTime(14): ignored");
    }
    r.file_created = file_created;
    r.line = line_no;
    register_reads.push_back(std::move(r));
    ++report.register_reads;
    last_250 = Last250::kept;
  }

  void parse_550() {
    if (last_250 == Last250::rejected) return;  // dropped with its 250
    if (last_250 == Last250::none) {
      reject_record("550", "RecordIndicator", "550 record without a preceding 250 record");
      return;
    }
    std::string_view previous_code, previous_order, current_code, current_order;
    if (!field(1, "550", "PreviousTransCode", previous_code) ||
        !field(2, "550", "PreviousRetServiceOrder", previous_order) ||
        !field(3, "550", "CurrentTransCode", current_code) ||
        !field(4, "550", "CurrentRetServiceOrder", current_order))
      return;
    if ((!previous_code.empty() && !mdff::is_b2b_trans_code(previous_code)) ||
        (!current_code.empty() && !mdff::is_b2b_trans_code(current_code)))
      return reject_record("550", "CurrentTransCode", "TransCode is not one of A C G D E N O S R");
    RegisterReadPeriod& r = register_reads.back();
    r.previous_trans_code = previous_code;
    r.previous_ret_service_order = previous_order;
    r.current_trans_code = current_code;
    r.current_ret_service_order = current_order;
    last_250 = Last250::none;
  }
};

Nem12Reader::Nem12Reader(ReaderOptions options, ReadingSink& sink)
    : impl_(std::make_unique<Impl>(std::move(options), sink)) {}
Nem12Reader::~Nem12Reader() = default;
void Nem12Reader::feed(std::string_view chunk) {
  impl_->feed(chunk);
}
void Nem12Reader::finish() {
  impl_->finish();
}
const FileReport& Nem12Reader::report() const {
  return impl_->report;
}
FileReport& Nem12Reader::report() {
  return impl_->report;
}

}  // namespace meterd
