#include "storage/version.hpp"

namespace meterd::storage {
namespace {

template <class T>
int three_way(const T& a, const T& b) {
  return a < b ? -1 : b < a ? 1 : 0;
}

}  // namespace

VersionFields version_of(const StringTable& strings, const ReadingRun& run, double value,
                         std::uint32_t k) {
  VersionFields v;
  v.update_datetime = run.update_datetime;
  v.file_created = run.file_created;
  v.line = run.line_of(k);
  v.value = value;
  v.quality = run.quality;
  v.method = run.method;
  v.reason_code = run.reason_code;
  v.interval_minutes = run.interval_minutes;
  v.uom = strings[run.uom];
  v.reason_description = strings[run.reason_description];
  v.register_id = strings[run.register_id];
  v.meter_serial = strings[run.meter_serial];
  v.msats_load_datetime = run.msats_load_datetime;
  return v;
}

int compare_versions(const VersionFields& a, const VersionFields& b) {
  if (int c = compare_version_prefix(a.update_datetime, a.file_created, a.line, b.update_datetime,
                                     b.file_created, b.line))
    return c;
  if (int c = three_way(a.value, b.value)) return c;
  // Quality as a byte, as SQL compares the one-character string.
  if (int c =
          three_way(static_cast<unsigned char>(a.quality), static_cast<unsigned char>(b.quality)))
    return c;
  if (int c = three_way(a.method, b.method)) return c;
  if (int c = three_way(a.reason_code, b.reason_code)) return c;
  if (int c = three_way(a.interval_minutes, b.interval_minutes)) return c;
  // string_view compares bytes as unsigned char, as SQL engines compare UTF-8 strings.
  for (auto [x, y] :
       {std::pair{a.uom, b.uom}, std::pair{a.reason_description, b.reason_description},
        std::pair{a.register_id, b.register_id}, std::pair{a.meter_serial, b.meter_serial}})
    if (int c = x.compare(y)) return c < 0 ? -1 : 1;
  return three_way(a.msats_load_datetime, b.msats_load_datetime);
}

}  // namespace meterd::storage
