// The quality of a NEM12 day: its 400 records (ranges of intervals with their own quality and
// reason) and the reason-code rules shared with the 300. What the default mode keeps where a
// 400 cannot be used is in README's Validation table.
#include <string>

#include "protocol/mdff_fields.hpp"
#include "protocol/nem12_reader_impl.hpp"

namespace meterd {

bool Nem12Reader::Impl::check_reason(std::string_view record, QualityMethod qm,
                                     std::string_view text, std::int16_t& code) {
  bool empty = false;
  code = kNoReasonCode;
  if (!mdff::parse_reason_code(text, code, empty) && !empty) {
    code = kNoReasonCode;
    return quirk(record, "ReasonCode",
                 "ReasonCode '" + std::string(text) + "' is not a number: kept without a reason");
  }
  if (empty) code = kNoReasonCode;
  if (qm.quality == 'V' && !empty)
    return quirk(record, "ReasonCode", "ReasonCode must be blank when QualityMethod is V");
  // The mark a user can query: the quality stays, the reason is empty.
  if ((qm.quality == 'F' || qm.quality == 'S') && empty)
    return quirk(record, "ReasonCode",
                 std::string("ReasonCode is required for quality flag ") + qm.quality +
                     ": kept with an empty reason");
  return true;
}

// ---- 400 -----------------------------------------------------------------------------

void Nem12Reader::Impl::parse_400(std::string_view line) {
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
  // A 400 whose range cannot be used (bad numbers, overlapping or out of order) is ignored: the
  // values stay certain but which intervals it meant is not, so the day's intervals that no
  // valid 400 covers are kept with quality V (quality unknown).
  auto ignore_range = [&](std::string field_name, std::string reason) {
    if (!quirk("400", std::move(field_name),
               reason + ": this 400 is ignored; intervals it does not cover keep quality V"))
      return;
    day.quality_unknown = true;
  };
  if (!interval_number(first, o.first))
    return ignore_range("StartInterval", "StartInterval '" + std::string(first) +
                                             "' is not in 1.." + std::to_string(block.intervals));
  if (!interval_number(last, o.last) || o.last < o.first)
    return ignore_range("EndInterval", "EndInterval '" + std::string(last) + "' is not in " +
                                           std::to_string(o.first) + ".." +
                                           std::to_string(block.intervals));
  const std::uint32_t previous_last = day.overrides.empty() ? 0 : day.overrides.back().last;
  if (o.first <= previous_last)
    return ignore_range("StartInterval", "400 ranges overlap or are not ascending (StartInterval " +
                                             std::to_string(o.first) + " after EndInterval " +
                                             std::to_string(previous_last) + ")");
  // A gap in the ranges of a V day keeps the uncovered intervals as V (end_day).
  if (o.first != previous_last + 1 && options.strict)
    return reject_day("400", "StartInterval",
                      "gap in 400 ranges: intervals " + std::to_string(previous_last + 1) + ".." +
                          std::to_string(o.first - 1) + " not covered");
  if (!mdff::parse_quality_method(quality, o.quality) || o.quality.quality == 'V') {
    if (!quirk("400", "QualityMethod",
               "QualityMethod '" + std::string(quality) + "' is not valid in a 400 record" +
                   (quality == "V" ? " (V is only allowed on a 300)" : "") +
                   ": the range is kept with quality V (quality unknown)"))
      return;
    o.quality = QualityMethod{'V', kNoMethod};
  }
  if (!check_reason("400", o.quality, reason, o.reason_code)) return;
  bool padded = false;
  if (o.reason_code == 0 && mdff::trim(description, padded).empty() &&
      !quirk("400", "ReasonDescription", "ReasonCode 0 requires a ReasonDescription: kept"))
    return;
  o.reason_description = batch.strings.intern(description);
  if (fields.size() > 6 && !all_empty(fields, 6) &&
      !quirk("400", "", "unexpected non-empty fields after ReasonDescription: ignored"))
    return;
  day.overrides.push_back(o);
}

}  // namespace meterd
