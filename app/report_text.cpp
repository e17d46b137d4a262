#include "app/report_text.hpp"

#include <cstdio>

#include "protocol/nem_time.hpp"
#include "protocol/reading_format.hpp"

namespace meterd::app {

std::string report_to_text(const FileReport& r) {
  std::string out = "== " + r.name + ": ";
  out += r.fatal ? "FAILED" : r.clean() ? "ok" : "data rejected";
  out += "\n   " + (r.version_header.empty() ? std::string("(no 100 header)") : r.version_header);
  if (r.file_created != kNoTime) out += " created " + format_nem_time(r.file_created);
  out += ", " + std::to_string(r.lines) + " lines, " + std::to_string(r.bytes) + " bytes\n";
  out += "   readings " + std::to_string(r.readings) + " (days " + std::to_string(r.days) +
         ", blocks " + std::to_string(r.blocks) + "), sum ";
  append_double(out, r.value_sum);
  out += ", B2B events " + std::to_string(r.b2b_events) + ", register reads " +
         std::to_string(r.register_reads) + "\n";
  if (!r.quality_counts.empty()) {
    out += "   by quality:";
    for (const auto& [key, count] : r.quality_counts)
      out += " " + key + "=" + std::to_string(count);
    out += "\n";
  }
  out += "   rejected: " + std::to_string(r.rejected_days) + " days, " +
         std::to_string(r.rejected_blocks) + " blocks, " + std::to_string(r.rejected_records) +
         " records, " + std::to_string(r.readings_rejected) + " readings; warnings " +
         std::to_string(r.warnings()) + "\n";
  for (const Issue& i : r.issues) {
    out += "   ";
    out += to_string(i.severity);
    out += " line " + std::to_string(i.line);
    if (!i.record.empty()) out += " record " + i.record;
    if (!i.field.empty()) out += " field " + i.field;
    if (!i.scope.empty() && i.severity != Severity::warning) out += " (" + i.scope + " dropped)";
    if (!i.nmi.empty())
      out += " [" + i.nmi + "/" + i.suffix +
             (i.interval_date.empty() ? "" : " " + i.interval_date) + "]";
    out += ": " + i.reason;
    if (i.count > 1) out += " (x" + std::to_string(i.count) + ", first shown)";
    out += "\n";
  }
  if (r.issues_dropped)
    out += "   ... " + std::to_string(r.issues_dropped) + " more issues not listed\n";
  return out;
}

std::string report_to_json(const FileReport& r) {
  std::string out = "{\"file\":";
  append_json_string(out, r.name);
  out += ",\"status\":";
  append_json_string(out, r.fatal ? "failed" : r.clean() ? "ok" : "rejected");
  out += ",\"version_header\":";
  append_json_string(out, r.version_header);
  out += ",\"file_created\":";
  if (r.file_created == kNoTime) {
    out += "null";
  } else {
    append_json_string(out, format_nem_time(r.file_created));
  }
  out += ",\"from\":";
  append_json_string(out, r.from_participant);
  out += ",\"to\":";
  append_json_string(out, r.to_participant);
  auto number = [&out](const char* key, std::uint64_t v) {
    out += ",\"";
    out += key;
    out += "\":" + std::to_string(v);
  };
  number("bytes", r.bytes);
  number("lines", r.lines);
  number("readings", r.readings);
  number("days", r.days);
  number("blocks", r.blocks);
  number("b2b_events", r.b2b_events);
  number("register_reads", r.register_reads);
  number("rejected_days", r.rejected_days);
  number("rejected_blocks", r.rejected_blocks);
  number("rejected_records", r.rejected_records);
  number("readings_rejected", r.readings_rejected);
  number("warnings", r.warnings());
  out += ",\"value_sum\":";
  append_double(out, r.value_sum);
  out += ",\"saw_900\":";
  out += r.saw_900 ? "true" : "false";
  out += ",\"quality\":{";
  bool first = true;
  for (const auto& [key, count] : r.quality_counts) {
    if (!first) out += ",";
    first = false;
    append_json_string(out, key);
    out += ':';
    out += std::to_string(count);
  }
  out += "},\"issues\":[";
  first = true;
  for (const Issue& i : r.issues) {
    if (!first) out += ",";
    first = false;
    out += "{\"severity\":";
    append_json_string(out, to_string(i.severity));
    out += ",\"line\":" + std::to_string(i.line) + ",\"record\":";
    append_json_string(out, i.record);
    out += ",\"field\":";
    append_json_string(out, i.field);
    out += ",\"reason\":";
    append_json_string(out, i.reason);
    out += ",\"scope\":";
    append_json_string(out, i.scope);
    out += ",\"nmi\":";
    append_json_string(out, i.nmi);
    out += ",\"suffix\":";
    append_json_string(out, i.suffix);
    out += ",\"interval_date\":";
    append_json_string(out, i.interval_date);
    out += ",\"readings_dropped\":" + std::to_string(i.readings_dropped);
    out += ",\"count\":" + std::to_string(i.count) + "}";
  }
  out += "],\"issues_not_listed\":" + std::to_string(r.issues_dropped) + "}";
  return out;
}

}  // namespace meterd::app
