// The edge side of `meterd forward`: ships files to a central `meterd serve` over its HTTP API
// until each is acknowledged durable, retrying with back-off, and remembers what was
// acknowledged in a state file so that a restarted forwarder does not send it again.
//
//   NDJSON files (sniffed as the central's pipeline sniffs them) are cut at line boundaries
//   into requests of at most batch_bytes and posted to /v1/readings; every other file
//   (NEM12/NEM13, compressed, zip) is posted whole to /v1/files, or, when larger than
//   batch_bytes, uploaded in ranges to /v1/uploads/<sha256> (resumable: docs/http.md).
//   State file (forwarder_state.hpp): one record per acknowledged request, "<sha256 of the
//   body> <name>", durable after each 200. The server's ingest id is the same hash, and the
//   server is idempotent, so a request acknowledged but not yet recorded (crash in between)
//   is at most sent once more and changes nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace meterd::app {

// Live figures for a progress line, written by the forwarder as requests are read, sent and
// answered, read by any thread: bytes read for sending, bytes the central has (acknowledged, or
// taken of an upload in progress) and, from its answers, readings durable and rejects.
struct ForwardProgress {
  std::atomic<std::uint64_t> files = 0, bytes_read = 0, bytes_at_central = 0;
  std::atomic<std::uint64_t> readings_durable = 0, rejects = 0, refused = 0, retries = 0;
};

struct ForwardOptions {
  std::string url;      // http://host:port
  std::string token;    // bearer token ("" = none)
  std::string ca_file;  // https: CA certificates (PEM) to verify the server; "" = the system's
  std::vector<std::filesystem::path> paths;  // files, or directories of files
  std::filesystem::path state_file;
  bool watch = false;  // keep watching directories (inotify) for new files until stopped
  std::chrono::milliseconds rescan_interval{10000};  // at most this often, after lost events
  std::size_t batch_bytes = 8u << 20;                // NDJSON request size
  unsigned parallel = 4;                             // requests in flight
  std::chrono::milliseconds timeout{330000};  // per request (the server's ack timeout + slack)
  std::chrono::milliseconds backoff_initial{200}, backoff_max{10000};
  bool quiet = false;
  ForwardProgress* progress = nullptr;  // none: no live figures kept
};

struct ForwardResult {
  std::uint64_t files = 0, requests = 0, acknowledged = 0, skipped = 0, failed = 0;
  std::uint64_t readings = 0, bytes = 0, retries = 0;
  double seconds = 0;
  std::vector<double> ack_latency_s;  // per acknowledged request
  bool interrupted = false;           // stopped while something read was not yet acknowledged
};

// Runs until every path is acknowledged (or failed for good), or, with `watch`, until `stop`.
// With `watch`, the directories among the paths are listed once and then watched with inotify.
ForwardResult run_forward(const ForwardOptions& options, const std::atomic<bool>& stop);

}  // namespace meterd::app
