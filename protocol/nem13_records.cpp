// The accumulation records of a NEM13 file: a 250 (one register read period) and the 550 that
// completes it with its B2B details.
#include <algorithm>
#include <string>

#include "protocol/mdff_fields.hpp"
#include "protocol/nem12_reader_impl.hpp"
#include "protocol/nem_time.hpp"

namespace meterd {

void Nem12Reader::Impl::parse_250() {
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
      return reject_record("250", kNames[18], "Quantity '" + std::string(f[18]) + "' is negative");
    case mdff::NumberError::not_a_number:
      return reject_record("250", kNames[18],
                           "Quantity '" + std::string(f[18]) + "' is not a number");
  }
  const std::string_view unit = mdff::canonical_uom(f[19]);
  if (unit.empty())
    return reject_record("250", kNames[19], "UOM '" + std::string(f[19]) + "' is not a known unit");
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

void Nem12Reader::Impl::parse_550() {
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

}  // namespace meterd
