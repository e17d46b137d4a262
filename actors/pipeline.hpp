// Runs the actor pipeline in this process: the one entry point for `meterd serve`,
// `meterd ingest` and `meterd bench`, and the only place that creates a CAF actor system
// (so the commands need no CAF headers).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>

#include "actors/config.hpp"
#include "actors/ingest_store.hpp"
#include "actors/intake.hpp"
#include "actors/metrics.hpp"
#include "protocol/input_byte_source.hpp"
#include "storage/audit_log.hpp"

namespace meterd::actors {

class RollupControl;

struct RunOptions {
  // SIGINT/SIGTERM start an orderly drain (stop intake, flush, commit, return).
  bool drain_on_signal = true;
  // Called on a helper thread every `progress_interval` while the pipeline runs.
  std::function<void()> on_progress;
  std::chrono::milliseconds progress_interval{250};
  // Called on the signal thread for each SIGHUP (a reload); none: SIGHUP is not handled here.
  std::function<void()> on_reload;
  // When set and it becomes true, the pipeline drains as on a signal (tests, embedding).
  const std::atomic<bool>* stop = nullptr;
  // Background compaction (config.compact_interval_ms > 0): for the long-running daemon only.
  bool background_compaction = false;
  // Rollups kept up (config.rollup_definitions, then what a reload offers); none: not kept.
  RollupControl* rollups = nullptr;
  // Where the store actor records each compaction step (the daemon's audit trail; none: not).
  storage::AuditLog* audit = nullptr;
  // The raw bytes of an input file (empty: the file itself). Tests wrap the file to make its
  // reads fail; called on the reader's thread.
  std::function<std::unique_ptr<ByteSource>(const std::filesystem::path&)> open_input;
};

struct RunResult {
  bool ok = true;            // false: the supervisor gave up (core actors kept crashing)
  bool interrupted = false;  // a signal started the drain
  double seconds = 0;
};

// Returns when the intake is exhausted and everything is durable, or after a signal's drain.
RunResult run_pipeline(const Config& config, IngestStore& store, Intake& intake, Metrics& metrics,
                       const RunOptions& options = {});

// Peak resident set size of this process so far, in bytes.
std::uint64_t peak_rss_bytes();

}  // namespace meterd::actors
