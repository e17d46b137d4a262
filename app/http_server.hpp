// The HTTP/1.1 API of `meterd serve` (docs/http.md): ingest (NDJSON readings, raw NEM12/NEM13
// files) with end-to-end acknowledgements, query, ingest reports, Prometheus metrics, health.
//
// Boost.Beast on Boost.Asio, on threads of its own next to the CAF pipeline: Beast gives a
// mature HTTP/1.1 parser with header and body limits and TLS through asio::ssl; CAF 0.17's io
// module has no HTTP. The server talks to the pipeline only through HttpIntake (files into the
// spool, callbacks when they are finished) and reads Metrics: no CAF types cross over.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "actors/config.hpp"
#include "actors/intake.hpp"
#include "actors/metrics.hpp"
#include "app/spool_intake.hpp"
#include "storage/audit_log.hpp"

namespace meterd::app {

struct ListenAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  bool loopback = true;
};
// "host:port", "[v6]:port" or "port". Throws std::invalid_argument.
ListenAddress parse_listen_address(const std::string& text);

// The listener plus the intake that wraps the spool. Created by `meterd serve` when
// http_listen is set; destroying it stops the server (waiting requests get 503).
class HttpFront {
 public:
  // nullptr when http_listen is empty. Throws std::runtime_error when it cannot listen or the
  // configuration is unsafe (non-loopback without TLS and tokens, unless http_allow_insecure).
  // `audit`: where ingests, queries and refused requests are recorded (none: not recorded).
  // `reload`: what POST /v1/admin/reload does ("" = applied, else why not; none: no endpoint).
  using Reload = std::function<std::string(const std::string& token_id)>;
  static std::unique_ptr<HttpFront> start(const actors::Config& config, SpoolIntake& spool,
                                          const actors::Metrics& metrics,
                                          storage::AuditLog* audit = nullptr, Reload reload = {});
  ~HttpFront();
  // What the pipeline should take its files from (the spool plus HTTP requests).
  actors::Intake& intake();
  std::uint16_t port() const;

 private:
  HttpFront();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meterd::app
