#include "app/http_metrics.hpp"

#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace meterd::app {
namespace {

struct Family {
  const char* name;
  const char* type;  // counter | gauge
  const char* help;
  const actors::Counter* value;
};

void family(std::string& out, const Family& f) {
  out += "# HELP meterd_";
  out += f.name;
  out += ' ';
  out += f.help;
  out += "\n# TYPE meterd_";
  out += f.name;
  out += ' ';
  out += f.type;
  out += "\nmeterd_";
  out += f.name;
  out += ' ';
  out += std::to_string(f.value->get());
  out += '\n';
}

void histogram(std::string& out, const char* name, const char* help,
               const actors::LatencyHistogram& h) {
  out += std::string("# HELP meterd_") + name + ' ' + help + "\n# TYPE meterd_" + name +
         " histogram\n";
  std::uint64_t cumulative = 0;
  char le[32];
  for (std::size_t i = 0; i < h.kBounds.size(); ++i) {
    cumulative += h.buckets[i].get();
    std::snprintf(le, sizeof le, "%g", h.kBounds[i]);
    out += std::string("meterd_") + name + "_bucket{le=\"" + le + "\"} " +
           std::to_string(cumulative) + '\n';
  }
  const auto count = h.count.get();
  out += std::string("meterd_") + name + "_bucket{le=\"+Inf\"} " + std::to_string(count) + '\n';
  char sum[48];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(h.sum_us.get()) / 1e6);
  out += std::string("meterd_") + name + "_sum " + sum + '\n';
  out += std::string("meterd_") + name + "_count " + std::to_string(count) + '\n';
}

void seconds_gauge(std::string& out, const char* name, const char* help, std::uint64_t us) {
  char value[48];
  std::snprintf(value, sizeof value, "%.6f", static_cast<double>(us) / 1e6);
  for (const char* piece : {"# HELP meterd_", name, " ", help, "\n# TYPE meterd_", name,
                            " gauge\nmeterd_", name, " ", static_cast<const char*>(value), "\n"})
    out += piece;
}

struct TenantFamily {
  const char* name;
  const char* help;
  actors::Counter actors::TenantCounters::*value;
};

constexpr TenantFamily kTenantFamilies[] = {
    {"tenant_files_claimed_total", "Files claimed for the tenant.",
     &actors::TenantCounters::files_claimed},
    {"tenant_files_durable_total", "The tenant's files fully durable.",
     &actors::TenantCounters::files_durable},
    {"tenant_files_rejected_total", "The tenant's files rejected.",
     &actors::TenantCounters::files_rejected},
    {"tenant_bytes_total", "Bytes of the tenant's files read.", &actors::TenantCounters::bytes},
    {"tenant_readings_durable_total", "The tenant's readings made durable.",
     &actors::TenantCounters::readings_durable},
    {"tenant_rejects_total", "Rejected days, blocks and records of the tenant's files.",
     &actors::TenantCounters::rejects},
    {"tenant_ingest_requests_total", "The tenant's acknowledged ingest requests.",
     &actors::TenantCounters::ingest_requests},
    {"tenant_forbidden_total", "403 answers to requests for the tenant.",
     &actors::TenantCounters::forbidden},
    {"tenant_queries_total", "The tenant's queries answered.", &actors::TenantCounters::queries},
    {"tenant_query_rows_total", "Rows those queries returned.",
     &actors::TenantCounters::query_rows},
};

// One family per counter, a sample per tenant chosen (tenant names are [A-Za-z0-9_-]: no
// escaping needed in a label).
void tenant_families(std::string& out, const actors::Metrics& m, const std::string* only) {
  std::vector<std::pair<std::string, const actors::TenantCounters*>> tenants;
  if (only)
    tenants.emplace_back(*only, &m.tenants.of(*only));
  else
    m.tenants.each([&](const std::string& name, const actors::TenantCounters& c) {
      tenants.emplace_back(name, &c);
    });
  if (tenants.empty()) return;
  for (const auto& f : kTenantFamilies) {
    out += std::string("# HELP meterd_") + f.name + ' ' + f.help + "\n# TYPE meterd_" + f.name +
           " counter\n";
    for (const auto& [name, counters] : tenants)
      out += std::string("meterd_") + f.name + "{tenant=\"" + name + "\"} " +
             std::to_string((counters->*f.value).get()) + '\n';
  }
}

}  // namespace

std::string render_tenant_prometheus(const actors::Metrics& m, const std::string& tenant) {
  std::string out;
  tenant_families(out, m, &tenant);
  return out;
}

std::string render_prometheus(const actors::Metrics& m, const HttpMetrics& h) {
  std::string out;
  out.reserve(8192);
  const auto& r = m.reader;
  const auto& b = m.batcher;
  const auto& w = m.writer;
  const auto& s = m.safety;
  const auto& f = m.files;
  const auto& c = m.compactor;
  for (const Family& x : std::initializer_list<Family>{
           {"reader_files_started_total", "counter", "Files a reader started.", &r.files_started},
           {"reader_files_finished_total", "counter", "Files a reader finished.",
            &r.files_finished},
           {"reader_bytes_total", "counter", "Decoded bytes parsed by readers.", &r.bytes},
           {"reader_readings_total", "counter", "Readings sent by readers.", &r.readings},
           {"reader_rejects_total", "counter", "Rejected days, blocks and records.", &r.rejects},
           {"reader_warnings_total", "counter", "Reader warnings.", &r.warnings},
           {"reader_batches_sent_total", "counter", "Batches sent to the batcher.",
            &r.batches_sent},
           {"reader_credit_stalls_total", "counter",
            "Times a reader had output ready but no credit.", &r.credit_stalls},
           {"reader_restarts_total", "counter", "Reader restarts.", &r.restarts},
           {"batcher_batches_in_total", "counter", "Reader batches received.", &b.batches_in},
           {"batcher_readings_in_total", "counter", "Readings received.", &b.readings_in},
           {"batcher_batches_sealed_total", "counter", "Batches sealed.", &b.batches_sealed},
           {"batcher_readings_sealed_total", "counter", "Readings sealed.", &b.readings_sealed},
           {"batcher_buffered_readings", "gauge", "Readings held by the batcher.",
            &b.buffered_readings},
           {"batcher_credit_stalls_total", "counter",
            "Times a sealed batch waited for writer credit.", &b.credit_stalls},
           {"batcher_input_parked_total", "counter", "Reader batches held back (buffer full).",
            &b.input_parked},
           {"writer_batches_total", "counter", "Batches written.", &w.batches},
           {"writer_readings_total", "counter", "Readings made durable.", &w.readings},
           {"writer_parts_total", "counter", "Parquet parts committed.", &w.parts},
           {"writer_bytes_total", "counter", "Bytes of committed parts.", &w.bytes},
           {"writer_failures_total", "counter", "Failed part writes.", &w.failures},
           {"writer_in_flight", "gauge", "Batches at the writer.", &w.in_flight},
           {"safety_batches_held_total", "counter", "Batches handed to the safety path.",
            &s.batches_held},
           {"safety_retries_total", "counter", "Safety path retries.", &s.retries},
           {"safety_landed_total", "counter", "Retries that landed.", &s.landed},
           {"safety_dead_lettered_total", "counter", "Batches dead-lettered.", &s.dead_lettered},
           {"safety_breaker_opens_total", "counter", "Circuit breaker openings.", &s.breaker_opens},
           {"safety_queue_depth", "gauge", "Batches held by the safety path now.", &s.held_now},
           {"files_claimed_total", "counter", "Files claimed.", &f.claimed},
           {"files_durable_total", "counter", "Files fully durable.", &f.durable},
           {"files_rejected_total", "counter", "Files rejected.", &f.rejected},
           {"files_duplicates_total", "counter", "Files skipped as already ingested.",
            &f.skipped_duplicates},
           {"http_connections_open", "gauge", "Open HTTP connections.", &h.connections_open},
           {"http_connections_total", "counter", "Accepted HTTP connections.",
            &h.connections_total},
           {"http_connections_refused_total", "counter", "Connections over the limit.",
            &h.connections_refused},
           {"http_requests_total", "counter", "HTTP requests.", &h.requests_total},
           {"http_responses_2xx_total", "counter", "2xx responses.", &h.responses_2xx},
           {"http_responses_4xx_total", "counter", "4xx responses.", &h.responses_4xx},
           {"http_responses_5xx_total", "counter", "5xx responses.", &h.responses_5xx},
           {"http_unauthorized_total", "counter", "401 responses.", &h.unauthorized},
           {"http_forbidden_total", "counter", "403 responses (role, tenant or participant).",
            &h.forbidden},
           {"http_rate_limited_total", "counter", "429 responses (per-token rate).",
            &h.rate_limited},
           {"http_overloaded_total", "counter", "503 responses for backpressure.", &h.overloaded},
           {"http_ingest_requests_total", "counter", "Acknowledged ingest requests.",
            &h.ingest_requests},
           {"http_ingest_readings_total", "counter", "Readings acknowledged durable.",
            &h.ingest_readings},
           {"http_ingest_bytes_total", "counter", "Body bytes of ingest requests.",
            &h.ingest_bytes},
           {"http_invalid_lines_total", "counter", "NDJSON lines rejected.", &h.invalid_lines},
           {"http_inflight_requests", "gauge", "Ingest requests not yet answered.",
            &h.inflight_requests},
           {"http_inflight_bytes", "gauge", "Body bytes of those requests.", &h.inflight_bytes},
           {"compactions_total", "counter", "Background merges committed.", &c.compactions},
           {"compaction_parts_merged_total", "counter", "Parts merged away by them.",
            &c.parts_merged},
           {"compaction_rows_merged_total", "counter", "Rows read by them.", &c.rows_merged},
           {"compaction_failures_total", "counter", "Merges that failed (retried next round).",
            &c.failures},
           {"rollup_definitions", "gauge", "Rollups kept up.", &m.rollups.definitions},
           {"rollup_partitions_behind", "gauge",
            "Readings partitions some rollup has yet to reflect (a backfill's progress).",
            &m.rollups.partitions_behind},
           {"rollup_refreshes_total", "counter", "Rollup partitions recomputed.",
            &m.rollups.refreshes},
           {"rollup_readings_read_total", "counter", "Readings read to recompute them.",
            &m.rollups.readings_read},
           {"rollup_rows_written_total", "counter", "Rollup rows written.",
            &m.rollups.rows_written},
           {"rollup_failures_total", "counter", "Rollup rounds that failed (retried).",
            &m.rollups.failures},
           {"rollup_reloads_total", "counter", "Rollup definition sets taken up.",
            &m.rollups.reloads},
       })
    family(out, x);
  histogram(out, "http_ack_latency_seconds", "Ingest request received to durable acknowledgement.",
            h.ack_latency);
  histogram(out, "writer_latency_seconds", "Part write latency (fsyncs included).", w.latency);
  seconds_gauge(out, "writer_latency_max_seconds", "Longest part write.", w.latency_us_max.get());
  seconds_gauge(out, "compaction_last_step_seconds", "Duration of the latest background merge.",
                c.last_step_us.get());
  seconds_gauge(out, "rollup_lag_seconds",
                "How long the rollups have been behind the durable readings (0: caught up).",
                m.rollups.lag_us.get());
  seconds_gauge(out, "rollup_last_catch_up_seconds",
                "From the rollups first seen behind to caught up, the latest time.",
                m.rollups.last_catch_up_us.get());
  tenant_families(out, m, nullptr);
  return out;
}

}  // namespace meterd::app
