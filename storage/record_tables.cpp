#include "storage/record_tables.hpp"

#include <algorithm>
#include <compare>
#include <string>

#include "storage/partition.hpp"

namespace meterd::storage {
namespace {

constexpr std::int64_t kNoTimeCell = kNoTime;
constexpr std::int64_t kNoReasonCell = kNoReasonCode;

// Column indexes of register_reads (the schema below, in order).
enum RegisterColumn : std::size_t {
  kRrNmi,
  kRrSuffix,
  kRrRegisterId,
  kRrMeterSerial,
  kRrCurrentReadDatetime,  // key ends
  kRrUpdateDatetime,
  kRrFileCreated,
  kRrLine,
  kRrNmiConfiguration,
  kRrMdmStream,
  kRrDirection,
  kRrPreviousRead,
  kRrPreviousReadDatetime,
  kRrPreviousQualityMethod,
  kRrPreviousReasonCode,
  kRrPreviousReasonDescription,
  kRrCurrentRead,
  kRrCurrentQualityMethod,
  kRrCurrentReasonCode,
  kRrCurrentReasonDescription,
  kRrQuantity,
  kRrUom,
  kRrNextScheduledRead,
  kRrMsatsLoadDatetime,
  kRrPreviousTransCode,
  kRrPreviousRetServiceOrder,
  kRrCurrentTransCode,
  kRrCurrentRetServiceOrder,  // content ends
  kRrFileSequence,
  kRrColumnCount
};

constexpr RecordColumn kRegisterReadColumns[kRrColumnCount] = {
    {"nmi", Kind::kString},
    {"suffix", Kind::kString},
    {"register_id", Kind::kString},
    {"meter_serial", Kind::kString},
    {"current_read_datetime", Kind::kTimestamp, true, kNoTimeCell},
    {"update_datetime", Kind::kTimestamp, true, kNoTimeCell},
    {"file_created", Kind::kTimestamp, true, kNoTimeCell},
    {"line", Kind::kInt64},
    {"nmi_configuration", Kind::kString},
    {"mdm_stream", Kind::kString},
    {"direction", Kind::kString},
    {"previous_read", Kind::kString},
    {"previous_read_datetime", Kind::kTimestamp, true, kNoTimeCell},
    {"previous_quality_method", Kind::kString},
    {"previous_reason_code", Kind::kInt32, true, kNoReasonCell},
    {"previous_reason_description", Kind::kString},
    {"current_read", Kind::kString},
    {"current_quality_method", Kind::kString},
    {"current_reason_code", Kind::kInt32, true, kNoReasonCell},
    {"current_reason_description", Kind::kString},
    {"quantity", Kind::kDouble},
    {"uom", Kind::kString},
    {"next_scheduled_read", Kind::kTimestamp, true, kNoTimeCell},
    {"msats_load_datetime", Kind::kTimestamp, true, kNoTimeCell},
    {"previous_trans_code", Kind::kString},
    {"previous_ret_service_order", Kind::kString},
    {"current_trans_code", Kind::kString},
    {"current_ret_service_order", Kind::kString},
    {"file_sequence", Kind::kInt64},
};

enum B2BColumn : std::size_t {
  kBeNmi,
  kBeSuffix,
  kBeIntervalDate,
  kBeTransCode,
  kBeRetServiceOrder,
  kBeReadDatetime,  // key ends: a burst of 500s after one 300 holds one index read per time
  kBeFileCreated,
  kBeLine,
  kBeIndexRead,  // content ends
  kBeFileSequence,
  kBeColumnCount
};

constexpr RecordColumn kB2BColumns[kBeColumnCount] = {
    {"nmi", Kind::kString},
    {"suffix", Kind::kString},
    {"interval_date", Kind::kTimestamp},
    {"trans_code", Kind::kString},
    {"ret_service_order", Kind::kString},
    {"read_datetime", Kind::kTimestamp, true, kNoTimeCell},
    {"file_created", Kind::kTimestamp, true, kNoTimeCell},
    {"line", Kind::kInt64},
    {"index_read", Kind::kString},
    {"file_sequence", Kind::kInt64},
};

const RecordTableSpec kRegisterReads{
    "register_reads",           kRegisterReadColumns,
    kRrCurrentReadDatetime + 1, kRrFileSequence,
    kRrCurrentReadDatetime,     "nmi,suffix,register_id,meter_serial,current_read_datetime"};
const RecordTableSpec kB2BEvents{
    "b2b_events",        kB2BColumns,
    kBeReadDatetime + 1, kBeFileSequence,
    kBeIntervalDate,     "nmi,suffix,interval_date,trans_code,ret_service_order,read_datetime"};

RecordCell text(std::string_view s) {
  RecordCell c;
  c.s = s;
  return c;
}
RecordCell number(std::int64_t i) {
  RecordCell c;
  c.i = i;
  return c;
}
RecordCell real(double d) {
  RecordCell c;
  c.d = d;
  return c;
}
RecordCell flag(char c) {
  return text(c ? std::string_view(&c, 1) : std::string_view{});
}
char flag_of(const RecordCell& c) {
  return c.s.empty() ? 0 : c.s[0];
}

int compare_cell(Kind kind, const RecordCell& a, const RecordCell& b) {
  std::strong_ordering o = std::strong_ordering::equal;
  if (kind == Kind::kString)
    o = a.s <=> b.s;
  else if (kind == Kind::kDouble)
    o = std::strong_order(a.d, b.d);  // IEEE totalOrder: the same answer for every value
  else
    o = a.i <=> b.i;
  return o < 0 ? -1 : o > 0 ? 1 : 0;
}

}  // namespace

const RecordTableSpec& spec_of(RecordTable table) {
  return table == RecordTable::register_reads ? kRegisterReads : kB2BEvents;
}

RecordRow to_row(const RegisterReadPeriod& r, std::uint64_t file_sequence) {
  RecordRow row(kRrColumnCount);
  row[kRrNmi] = text(r.nmi);
  row[kRrSuffix] = text(r.suffix);
  row[kRrRegisterId] = text(r.register_id);
  row[kRrMeterSerial] = text(r.meter_serial);
  row[kRrCurrentReadDatetime] = number(r.current_read_datetime);
  row[kRrUpdateDatetime] = number(r.update_datetime);
  row[kRrFileCreated] = number(r.file_created);
  row[kRrLine] = number(r.line);
  row[kRrNmiConfiguration] = text(r.nmi_configuration);
  row[kRrMdmStream] = text(r.mdm_stream);
  row[kRrDirection] = flag(r.direction);
  row[kRrPreviousRead] = text(r.previous_read);
  row[kRrPreviousReadDatetime] = number(r.previous_read_datetime);
  row[kRrPreviousQualityMethod] = text(r.previous_quality_method);
  row[kRrPreviousReasonCode] = number(r.previous_reason_code);
  row[kRrPreviousReasonDescription] = text(r.previous_reason_description);
  row[kRrCurrentRead] = text(r.current_read);
  row[kRrCurrentQualityMethod] = text(r.current_quality_method);
  row[kRrCurrentReasonCode] = number(r.current_reason_code);
  row[kRrCurrentReasonDescription] = text(r.current_reason_description);
  row[kRrQuantity] = real(r.quantity);
  row[kRrUom] = text(r.uom);
  row[kRrNextScheduledRead] = number(r.next_scheduled_read);
  row[kRrMsatsLoadDatetime] = number(r.msats_load_datetime);
  row[kRrPreviousTransCode] = text(r.previous_trans_code);
  row[kRrPreviousRetServiceOrder] = text(r.previous_ret_service_order);
  row[kRrCurrentTransCode] = text(r.current_trans_code);
  row[kRrCurrentRetServiceOrder] = text(r.current_ret_service_order);
  row[kRrFileSequence] = number(static_cast<std::int64_t>(file_sequence));
  return row;
}

RegisterReadPeriod register_read_of(const RecordRow& row) {
  RegisterReadPeriod r;
  r.nmi = row[kRrNmi].s;
  r.suffix = row[kRrSuffix].s;
  r.register_id = row[kRrRegisterId].s;
  r.meter_serial = row[kRrMeterSerial].s;
  r.current_read_datetime = row[kRrCurrentReadDatetime].i;
  r.update_datetime = row[kRrUpdateDatetime].i;
  r.file_created = row[kRrFileCreated].i;
  r.line = static_cast<std::uint32_t>(row[kRrLine].i);
  r.nmi_configuration = row[kRrNmiConfiguration].s;
  r.mdm_stream = row[kRrMdmStream].s;
  r.direction = flag_of(row[kRrDirection]);
  r.previous_read = row[kRrPreviousRead].s;
  r.previous_read_datetime = row[kRrPreviousReadDatetime].i;
  r.previous_quality_method = row[kRrPreviousQualityMethod].s;
  r.previous_reason_code = static_cast<std::int16_t>(row[kRrPreviousReasonCode].i);
  r.previous_reason_description = row[kRrPreviousReasonDescription].s;
  r.current_read = row[kRrCurrentRead].s;
  r.current_quality_method = row[kRrCurrentQualityMethod].s;
  r.current_reason_code = static_cast<std::int16_t>(row[kRrCurrentReasonCode].i);
  r.current_reason_description = row[kRrCurrentReasonDescription].s;
  r.quantity = row[kRrQuantity].d;
  r.uom = row[kRrUom].s;
  r.next_scheduled_read = row[kRrNextScheduledRead].i;
  r.msats_load_datetime = row[kRrMsatsLoadDatetime].i;
  r.previous_trans_code = row[kRrPreviousTransCode].s;
  r.previous_ret_service_order = row[kRrPreviousRetServiceOrder].s;
  r.current_trans_code = row[kRrCurrentTransCode].s;
  r.current_ret_service_order = row[kRrCurrentRetServiceOrder].s;
  return r;
}

RecordRow to_row(const B2BEvent& e, std::uint64_t file_sequence) {
  RecordRow row(kBeColumnCount);
  row[kBeNmi] = text(e.nmi);
  row[kBeSuffix] = text(e.suffix);
  row[kBeIntervalDate] = number(e.interval_date);
  row[kBeTransCode] = flag(e.trans_code);
  row[kBeRetServiceOrder] = text(e.ret_service_order);
  row[kBeFileCreated] = number(e.file_created);
  row[kBeLine] = number(e.line);
  row[kBeReadDatetime] = number(e.read_datetime);
  row[kBeIndexRead] = text(e.index_read);
  row[kBeFileSequence] = number(static_cast<std::int64_t>(file_sequence));
  return row;
}

B2BEvent b2b_event_of(const RecordRow& row) {
  B2BEvent e;
  e.nmi = row[kBeNmi].s;
  e.suffix = row[kBeSuffix].s;
  e.interval_date = row[kBeIntervalDate].i;
  e.trans_code = flag_of(row[kBeTransCode]);
  e.ret_service_order = row[kBeRetServiceOrder].s;
  e.file_created = row[kBeFileCreated].i;
  e.line = static_cast<std::uint32_t>(row[kBeLine].i);
  e.read_datetime = row[kBeReadDatetime].i;
  e.index_read = row[kBeIndexRead].s;
  return e;
}

MonthKey partition_month(const RecordTableSpec& spec, const RecordRow& row) {
  const std::int64_t t = row[spec.partition_column].i;
  return month_of(t == kNoTime ? 0 : t);
}

void keep_winners(const RecordTableSpec& spec, std::vector<RecordRow>& rows) {
  auto compare_range = [&](const RecordRow& a, const RecordRow& b, std::size_t from,
                           std::size_t to) {
    for (std::size_t c = from; c < to; ++c)
      if (int o = compare_cell(spec.columns[c].kind, a[c], b[c])) return o;
    return 0;
  };
  // Already one row per key in key order (a rollup's rows): nothing to do.
  bool strictly_ascending = true;
  for (std::size_t i = 1; i < rows.size() && strictly_ascending; ++i)
    strictly_ascending = compare_range(rows[i - 1], rows[i], 0, spec.key_columns) < 0;
  if (strictly_ascending) return;
  // Key ascending, then the greater version first: the first row of each key wins. Rows equal
  // in content are one record: the smaller file_sequence (lineage, the last column) is kept,
  // only so that a merge's bytes do not depend on the order rows came in.
  std::sort(rows.begin(), rows.end(), [&](const RecordRow& a, const RecordRow& b) {
    if (int o = compare_range(a, b, 0, spec.key_columns)) return o < 0;
    if (int o = compare_range(a, b, spec.key_columns, spec.content_columns)) return o > 0;
    return a.back().i < b.back().i;
  });
  auto same_key = [&](const RecordRow& a, const RecordRow& b) {
    return compare_range(a, b, 0, spec.key_columns) == 0;
  };
  rows.erase(std::unique(rows.begin(), rows.end(), same_key), rows.end());
}

}  // namespace meterd::storage
