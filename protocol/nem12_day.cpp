// The interval data of a NEM12 file: the 200 block, its 300 days with their 400 ranges, and 500
// B2B details. A day is committed to the batch only once complete (nem12_reader.hpp); its 400
// records are read in nem12_quality.cpp.
#include <cstring>
#include <string>

#include "protocol/mdff_fields.hpp"
#include "protocol/nem12_reader_impl.hpp"
#include "protocol/nem_time.hpp"

namespace meterd {

void Nem12Reader::Impl::parse_200() {
  block = Block{};
  block_issue = ~std::size_t{0};
  block.active = true;
  block.line = line_no;
  block.intervals = intervals_of_200();
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
    return reject_block("NMISuffix", "NMISuffix '" + std::string(suffix) + "' is not 2 characters");
  // Metadata defects: the readings' key and values stay certain, so the block is kept (a
  // warning; strict mode rejects the block as the specification says).
  bool listed = false;
  for (std::size_t i = 0; i + 2 <= config.size() && !listed; i += 2)
    listed = config.substr(i, 2) == suffix;
  if (config.empty()) {
    if (!quirk("200", "NMIConfiguration", "NMIConfiguration is empty: block kept")) return;
  } else if (!listed &&
             !quirk("200", "NMIConfiguration",
                    "NMISuffix '" + std::string(suffix) + "' is not in NMIConfiguration '" +
                        std::string(config) + "': block kept")) {
    return;
  }
  const std::string_view unit = mdff::canonical_uom(uom);
  if (unit.empty() &&
      !quirk("200", "UOM", "UOM '" + std::string(uom) + "' is not a known unit: kept as written"))
    return;
  block.uom = unit.empty() ? uom : unit;
  block.interval_minutes = interval_minutes_of(interval);
  if (block.interval_minutes == 0)
    return reject_block("IntervalLength",
                        "IntervalLength '" + std::string(interval) + "' is not 5, 15 or 30");
  if (interval == "05" && !quirk("200", "IntervalLength", "IntervalLength written as '05'")) return;
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

void Nem12Reader::Impl::parse_300(std::string_view line) {
  end_day();
  if (!block.active) {
    ++report.rejected_days;
    Issue issue = make_issue(Severity::reject, "300", "RecordIndicator",
                             "300 record without a preceding 200 record", "day");
    issue.readings_dropped = readings_of_300(line);
    report.readings_rejected += issue.readings_dropped;
    report.add(std::move(issue));
    return;
  }
  ++report.days;
  day.open = true;
  day.rejected = false;
  day.line = line_no;
  day.date = kNoTime;
  day.overrides.clear();
  day.quality_unknown = false;
  day.value_begin = batch.values.size();
  if (block.rejected) {
    // Part of a rejected block: dropped, and counted with it.
    day.rejected = true;
    ++report.rejected_days;
    const std::uint32_t dropped = readings_of_300(line);
    report.readings_rejected += dropped;
    if (block_issue < report.issues.size()) report.issues[block_issue].readings_dropped += dropped;
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
    return reject_day("300", "IntervalDate",
                      "IntervalDate '" + std::string(date_text) + "' is not a valid CCYYMMDD date");
  }
  // A day sent twice (or out of order) in one block: both are kept, and the version order
  // decides between them (a later line wins over an earlier one of the same version).
  if (block.last_date != kNoTime && day.date <= block.last_date &&
      !quirk("300", "IntervalDate",
             "IntervalDate " + std::string(date_text) +
                 " is not after the previous day of this 200 block: kept, versions decide"))
    return;
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
      return reject_day("300", "QualityMethod", "QualityMethod missing after the interval values");
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

void Nem12Reader::Impl::too_few_values(std::uint32_t seen) {
  day.in_continuation = true;  // the rest of the record may follow on the next lines
  reject_day("300", "IntervalValue" + std::to_string(seen + 1),
             "300 record ends after " + std::to_string(seen) + " interval values; IntervalLength " +
                 std::to_string(block.interval_minutes) + " requires " +
                 std::to_string(block.intervals) + " (record truncated or split over lines?)");
}

bool Nem12Reader::Impl::parse_value_slow(std::string_view text, std::uint32_t k, double& out) {
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

void Nem12Reader::Impl::parse_300_tail(std::string_view tail) {
  mdff::split_fields(tail, fields);
  std::string_view quality, reason, description, update, msats;
  if (!field(0, "300", "QualityMethod", quality)) return;
  if (!mdff::parse_quality_method(quality, day.quality)) {
    double ignored;
    if (mdff::parse_decimal(quality, ignored) == mdff::NumberError::ok || quality.empty())
      return reject_day("300", "QualityMethod",
                        quality.empty() ? std::string("QualityMethod is empty")
                                        : "more interval values than IntervalLength " +
                                              std::to_string(block.interval_minutes) + " allows (" +
                                              std::to_string(block.intervals) + ")");
    if (!quirk("300", "QualityMethod",
               "QualityMethod '" + std::string(quality) +
                   "' is not valid: the day is kept with quality V (quality unknown)"))
      return;
    day.quality = QualityMethod{'V', kNoMethod};
  }
  if (!field(1, "300", "ReasonCode", reason) ||
      !check_reason("300", day.quality, reason, day.reason_code))
    return;
  // Free text is kept as sent (trailing spaces included); only its emptiness is checked.
  description = fields.size() > 2 ? fields[2] : std::string_view{};
  bool padded = false;
  if (day.reason_code == 0 && mdff::trim(description, padded).empty() &&
      !quirk("300", "ReasonDescription", "ReasonCode 0 requires a ReasonDescription: kept"))
    return;
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
    if (!all_empty(fields, 5)) {
      quirk("300", "MSATSLoadDateTime",
            "unexpected non-empty fields after MSATSLoadDateTime: ignored");
    } else {
      quirk("300", "", "trailing empty fields (Excel padding)");
    }
  }
}

bool Nem12Reader::Impl::parse_version_time(std::string_view text, const char* name,
                                           epoch_seconds& out, bool mandatory) {
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
    return quirk("300", name,
                 std::string(name) + " '" + std::string(text) +
                     "' is not a valid DateTime(14): version falls back to file time");
  }
  if (twelve) return quirk("300", name, std::string(name) + " has 12 digits: seconds taken as 00");
  return true;
}

// ---- committing a day ----------------------------------------------------------------

void Nem12Reader::Impl::end_day() {
  if (!day.open) return;
  day.open = false;
  last_day_rejected = day.rejected;
  if (day.rejected) return;
  if (day.quality.quality == 'V') {
    std::uint32_t covered = 0;
    for (const Override& o : day.overrides) covered += o.last - o.first + 1;
    if (covered != block.intervals) {
      // Reported on the 300's line (the day ends on the next record); quirk's strict reject
      // works on the open day.
      const std::uint32_t next_line = line_no;
      line_no = day.line;
      day.open = true;
      const bool kept = quirk(
          "300", "QualityMethod",
          "QualityMethod V but the 400 records cover " + std::to_string(covered) + " of " +
              std::to_string(block.intervals) + " intervals: the others are kept with quality V");
      day.open = false;
      line_no = next_line;
      if (!kept) return;
    }
  } else if (!day.overrides.empty() && day.quality.quality != 'A') {
    warn("400", "QualityMethod", "400 records override a 300 whose QualityMethod is not V");
  }
  commit_day();
}

void Nem12Reader::Impl::commit_day() {
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
  auto add_run = [&](std::uint32_t first, std::uint32_t last, QualityMethod qm, std::int16_t reason,
                     std::uint32_t description) {
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
  // Intervals no 400 covers take the 300's quality, or V when an ignored 400 made it unknown.
  const bool unknown = day.quality_unknown && day.quality.quality != 'V';
  const QualityMethod fill = unknown ? QualityMethod{'V', kNoMethod} : day.quality;
  const std::int16_t fill_reason = unknown ? kNoReasonCode : day.reason_code;
  const std::uint32_t fill_description = unknown ? 0 : day.reason_description;
  std::uint32_t next = 1;
  for (const Override& o : day.overrides) {
    if (o.first > next) add_run(next, o.first - 1, fill, fill_reason, fill_description);
    add_run(o.first, o.last, o.quality, o.reason_code, o.reason_description);
    next = o.last + 1;
  }
  if (next <= block.intervals) add_run(next, block.intervals, fill, fill_reason, fill_description);
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
  if (block.last_date == kNoTime || day.date > block.last_date) block.last_date = day.date;
  b2b_day = day.date;
  if (batch.values.size() >= options.batch_readings) flush_readings();
}

// ---- 500 -----------------------------------------------------------------------------

void Nem12Reader::Impl::parse_500() {
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

}  // namespace meterd
