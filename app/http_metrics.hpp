// Counters of the HTTP API, next to the pipeline's Metrics. Relaxed atomics only: the request
// path never takes a lock for them.
#pragma once

#include <cstdint>
#include <string>

#include "actors/metrics.hpp"

namespace meterd::app {

struct HttpMetrics {
  actors::Counter connections_open, connections_total, connections_refused;
  actors::Counter requests_total, responses_2xx, responses_4xx, responses_5xx;
  actors::Counter unauthorized, rate_limited, overloaded;  // 401, 429, 503 (backpressure)
  actors::Counter forbidden;                               // 403: role or tenant
  actors::Counter ingest_requests, ingest_readings, ingest_bytes, invalid_lines;
  actors::Counter inflight_requests, inflight_bytes;
  actors::LatencyHistogram ack_latency;  // request received -> durable acknowledgement sent
};

// Prometheus text exposition format (0.0.4) of every counter of the pipeline and the API, and
// the per-tenant families (meterd_tenant_*{tenant="..."}) of every tenant seen.
std::string render_prometheus(const actors::Metrics& pipeline, const HttpMetrics& http);

// Only the per-tenant families, of one tenant: what a tenant's token is shown (the daemon's
// own counters span tenants).
std::string render_tenant_prometheus(const actors::Metrics& pipeline, const std::string& tenant);

}  // namespace meterd::app
