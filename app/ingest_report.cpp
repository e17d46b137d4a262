#include "app/ingest_report.hpp"

#include <cstdio>

#include "actors/log.hpp"
#include "protocol/reading_format.hpp"

namespace meterd::app {
namespace {

void key(std::string& out, const char* name) {
  out += '"';
  out += name;
  out += "\":";
}
void str(std::string& out, const char* name, std::string_view value) {
  key(out, name);
  append_json_string(out, value);
  out += ',';
}
void num(std::string& out, const char* name, std::uint64_t value) {
  key(out, name);
  out += std::to_string(value);
  out += ',';
}
void real(std::string& out, const char* name, double value) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6f", value);
  key(out, name);
  out += buf;
  out += ',';
}

void issue(std::string& out, const Issue& i) {
  out += '{';
  str(out, "severity", to_string(i.severity));
  num(out, "line", i.line);
  str(out, "record", i.record);
  str(out, "field", i.field);
  str(out, "reason", i.reason);
  str(out, "scope", i.scope);
  str(out, "nmi", i.nmi);
  str(out, "suffix", i.suffix);
  str(out, "interval_date", i.interval_date);
  key(out, "readings_dropped");
  out += std::to_string(i.readings_dropped);
  out += '}';
}

}  // namespace

std::string ingest_report_json(const actors::ClaimedFile& file, const actors::FileOutcome& o) {
  const FileReport& r = o.report;
  std::string out = "{";
  str(out, "file", file.name);
  if (!file.tenant.empty()) str(out, "tenant", file.tenant);
  str(out, "status", to_string(o.status));
  if (o.forbidden) str(out, "refused", "forbidden");
  if (!o.error.empty()) str(out, "error", o.error);
  str(out, "sha256", o.content_hash);
  num(out, "file_sequence", file.file_sequence);
  num(out, "bytes", o.bytes);
  str(out, "version_header", r.version_header);
  str(out, "from_participant", r.from_participant);
  str(out, "to_participant", r.to_participant);
  num(out, "lines", r.lines);
  num(out, "readings", r.readings);
  num(out, "readings_durable", o.readings_durable);
  num(out, "readings_dead_lettered", o.readings_dead_lettered);
  num(out, "days", r.days);
  num(out, "blocks", r.blocks);
  num(out, "b2b_events", r.b2b_events);
  num(out, "register_reads", r.register_reads);
  num(out, "rejected_days", r.rejected_days);
  num(out, "rejected_blocks", r.rejected_blocks);
  num(out, "rejected_records", r.rejected_records);
  num(out, "readings_rejected", r.readings_rejected);
  num(out, "warnings", r.warnings());
  num(out, "rejects", r.rejects());
  key(out, "fatal");
  out += r.fatal ? "true," : "false,";
  key(out, "quality_counts");
  out += '{';
  bool first = true;
  for (const auto& [q, n] : r.quality_counts) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, q);
    out += ':' + std::to_string(n);
  }
  out += "},";
  num(out, "attempts", o.attempts);
  key(out, "timings");
  out += '{';
  real(out, "read_seconds", o.read_seconds);
  key(out, "total_seconds");
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6f", o.total_seconds);
  out += buf;
  out += "},";
  num(out, "issues_dropped", r.issues_dropped);
  key(out, "issues");
  out += '[';
  for (std::size_t i = 0; i < r.issues.size(); ++i) {
    if (i) out += ',';
    issue(out, r.issues[i]);
  }
  out += "]}\n";
  return out;
}

void audit_ingest(storage::AuditLog* audit, const actors::ClaimedFile& file,
                  const actors::FileOutcome& o, const IngestOrigin& origin) {
  if (!audit) return;
  std::string out;
  str(out, "source", origin.source);
  str(out, "file", file.name);
  str(out, "sha256", o.content_hash);
  num(out, "file_sequence", file.file_sequence);
  num(out, "bytes", o.bytes);
  str(out, "status", actors::to_string(o.status));
  if (o.forbidden) str(out, "refused", "forbidden");
  num(out, "readings", o.report.readings);
  num(out, "readings_durable", o.readings_durable);
  num(out, "readings_rejected", o.report.readings_rejected);
  num(out, "readings_dead_lettered", o.readings_dead_lettered);
  key(out, "error");
  append_json_string(out, o.error);
  try {
    audit->append("ingest", file.tenant, origin.token, out);
  } catch (const std::exception& e) {  // the operator must hear of it
    actors::log::error("audit_write_failed",
                       {{"kind", "ingest"}, {"file", file.name}, {"error", e.what()}});
  }
}

}  // namespace meterd::app
