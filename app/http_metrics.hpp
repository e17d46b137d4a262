// Counters of the HTTP API, next to the pipeline's Metrics. Relaxed atomics only: the request
// path never takes a lock for them.
#pragma once

#include <cstdint>

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

// Prometheus text exposition format (0.0.4) of every counter of the pipeline and the API.
std::string render_prometheus(const actors::Metrics& pipeline, const HttpMetrics& http);

}  // namespace meterd::app
