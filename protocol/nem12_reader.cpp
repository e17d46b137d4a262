// The NEM12/NEM13 reader's line assembly (lines across chunks, LF, CRLF or CR), record dispatch,
// the file's shape (100, 900, NEM12 or NEM13) and its issues. The interval day is read in
// nem12_day.cpp, NEM13 records in nem13_records.cpp; their shared state is nem12_reader_impl.hpp.
#include "protocol/nem12_reader.hpp"

#include <algorithm>
#include <string>

#include "protocol/mdff_fields.hpp"
#include "protocol/nem12_reader_impl.hpp"
#include "protocol/nem_time.hpp"

namespace meterd {
namespace {

// Record indicators that may start a line. Anything else inside a day is the tail of a record
// that was split over several lines.
bool is_known_record(std::string_view indicator) {
  return indicator == "100" || indicator == "200" || indicator == "300" || indicator == "400" ||
         indicator == "500" || indicator == "900" || indicator == "250" || indicator == "550";
}

}  // namespace

// ---- issues --------------------------------------------------------------------------

Issue Nem12Reader::Impl::make_issue(Severity severity, std::string_view record, std::string field,
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

void Nem12Reader::Impl::warn(std::string_view record, std::string field, std::string reason) {
  report.add(make_issue(Severity::warning, record, std::move(field), std::move(reason), ""));
}

bool Nem12Reader::Impl::quirk(std::string_view record, std::string field, std::string reason) {
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

void Nem12Reader::Impl::fatal(std::string_view record, std::string field, std::string reason) {
  Issue issue = make_issue(Severity::fatal, record, std::move(field), std::move(reason), "file");
  // What the fatal error drops now: an open day. The line it was raised on and the rest of the
  // file are counted by count_after_fatal.
  if (day.open && !day.rejected) {
    issue.readings_dropped = block.intervals;
    report.readings_rejected += block.intervals;
    batch.values.resize(day.value_begin);
    day.rejected = true;
  }
  report.add(std::move(issue));
}

std::uint16_t Nem12Reader::Impl::interval_minutes_of(std::string_view length) {
  return length == "5" || length == "05" ? 5 : length == "15" ? 15 : length == "30" ? 30 : 0;
}

std::uint32_t Nem12Reader::Impl::intervals_of_200() const {
  bool padded = false;
  const std::uint16_t minutes =
      interval_minutes_of(fields.size() > 8 ? mdff::trim(fields[8], padded) : "");
  return minutes ? 1440u / minutes : 0;
}

std::uint32_t Nem12Reader::Impl::readings_of_300(std::string_view line) {
  if (block.active && block.intervals > 0) return block.intervals;
  // No usable IntervalLength: the readings the record claims are its values, the fields between
  // IntervalDate and the first QualityMethod.
  mdff::split_fields(line, fields);
  std::uint32_t n = 0;
  for (std::size_t i = 2; i < fields.size(); ++i) {
    bool padded = false;
    QualityMethod qm;
    if (mdff::parse_quality_method(mdff::trim(fields[i], padded), qm)) break;
    ++n;
  }
  return n;
}

void Nem12Reader::Impl::count_after_fatal(std::string_view line) {
  std::string_view indicator = line.substr(0, line.find(','));
  bool padded = false;
  indicator = mdff::trim(indicator, padded);
  if (indicator == "200") {
    mdff::split_fields(line, fields);
    block.active = true;
    block.intervals = intervals_of_200();
  } else if (indicator == "300") {
    report.readings_rejected += readings_of_300(line);
  }
}

void Nem12Reader::Impl::reject_record(std::string_view record, std::string field,
                                      std::string reason) {
  ++report.rejected_records;
  report.add(make_issue(Severity::reject, record, std::move(field), std::move(reason), "record"));
}

void Nem12Reader::Impl::reject_day(std::string_view record, std::string field, std::string reason) {
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

void Nem12Reader::Impl::reject_block(std::string field, std::string reason) {
  block.rejected = true;
  ++report.rejected_blocks;
  block_issue =
      report.issues.size() < FileReport::kMaxIssuesKept ? report.issues.size() : ~std::size_t{0};
  report.add(make_issue(Severity::reject, "200", std::move(field), std::move(reason), "block"));
}

// ---- batches -------------------------------------------------------------------------

void Nem12Reader::Impl::flush_readings() {
  if (!batch.runs.empty()) {
    sink.on_readings(batch);
    batch.clear();
    ++batch_generation;
    if (batch.values.capacity() < options.batch_readings)
      batch.values.reserve(options.batch_readings + 512);
  }
}

void Nem12Reader::Impl::flush_events() {
  if (!b2b_events.empty()) sink.on_b2b_events(b2b_events);
  b2b_events.clear();
  if (!register_reads.empty()) sink.on_register_reads(register_reads);
  register_reads.clear();
}

// ---- line assembly -------------------------------------------------------------------

void Nem12Reader::Impl::feed(std::string_view chunk) {
  report.bytes += chunk.size();
  if (chunk.empty()) return;
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
  // After a fatal error the lines are still split, only to count the readings it dropped.
  while (p < end) {
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

void Nem12Reader::Impl::finish() {
  if (!carry.empty()) {
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

void Nem12Reader::Impl::process_line(std::string_view line) {
  ++line_no;
  if (report.fatal) return count_after_fatal(line);
  if (first_line) {
    first_line = false;
    if (line.substr(0, 3) == "\xEF\xBB\xBF") {
      line.remove_prefix(3);
      quirk("", "", "UTF-8 byte order mark at start of file");
      if (report.fatal) return count_after_fatal(line);
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
  // Strict mode rejects a padded 200 or 300 as its own block or day, so the reject waits until
  // the record has opened it (rejected before, it would fall on the block or day before).
  const bool opens = bare == "200" || bare == "300";
  if (padded && !(options.strict && opens) &&
      !quirk(bare, "RecordIndicator", "whitespace around record indicator"))
    return;
  auto reject_padded = [&] {
    if (padded && options.strict && !(bare == "200" ? block.rejected : day.rejected))
      quirk(bare, "RecordIndicator", "whitespace around record indicator");
  };

  if (bare == "300" && !padded) {
    // The hot path: nothing before the fast 300 parser.
    if (!check_kind(FileKind::nem12, bare)) return count_after_fatal(line);
    parse_300(line);
    return;
  }
  if (bare == "400") {
    if (!check_kind(FileKind::nem12, bare)) return;
    parse_400(line);
    return;
  }
  if (bare == "300") {  // padded indicator, quirk accepted: parse a normalised copy
    if (!check_kind(FileKind::nem12, bare)) return count_after_fatal(line);
    const std::size_t comma = line.find(',');
    std::string copy = "300";
    if (comma != std::string_view::npos) copy.append(line.substr(comma));
    parse_300(copy);
    reject_padded();
    return;
  }
  end_day();
  if (bare != "550") last_250 = Last250::none;  // a 550 must follow its 250 directly
  mdff::split_fields(line, fields);
  fields[0] = bare;
  if (bare == "100") {
    parse_100();
  } else if (bare == "200") {
    // Refused, it still sets the IntervalLength by which the 300s after it are counted.
    if (!check_kind(FileKind::nem12, bare)) return count_after_fatal(line);
    parse_200();
    reject_padded();
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

bool Nem12Reader::Impl::check_kind(FileKind wanted, std::string_view record) {
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

bool Nem12Reader::Impl::before_record(std::string_view record) {
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

void Nem12Reader::Impl::parse_100() {
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
      fatal("100", "VersionHeader",
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

void Nem12Reader::Impl::parse_900() {
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
