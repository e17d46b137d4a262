// Per-actor counters. Actors only add to them (relaxed atomics, no locks on the hot path);
// the log's periodic metrics line, the progress bar and the closing summary read them.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "actors/progress.hpp"

namespace meterd::actors {

struct Counter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n = 1) { value.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::uint64_t n = 1) { value.fetch_sub(n, std::memory_order_relaxed); }
  std::uint64_t get() const { return value.load(std::memory_order_relaxed); }
  void raise_to(std::uint64_t v) {  // keeps a maximum
    auto cur = get();
    while (v > cur && !value.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
  }
};

// Fixed-bucket latency histogram (Prometheus style): a few compares and two relaxed increments.
struct LatencyHistogram {
  // Upper bounds in seconds (cumulative buckets; +Inf is `count`).
  static constexpr std::array<double, 14> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1,     2.5,  5,     10,   30};
  std::array<Counter, kBounds.size()> buckets;  // not cumulative: one bucket per observation
  Counter count, sum_us;
  void observe_us(std::uint64_t us) {
    for (std::size_t i = 0; i < kBounds.size(); ++i)
      if (static_cast<double>(us) <= kBounds[i] * 1e6) {
        buckets[i].add();
        break;
      }
    count.add();
    sum_us.add(us);
  }
};

struct ReaderMetrics {
  Counter files_started, files_finished, bytes, readings, rejects, warnings, batches_sent;
  Counter credit_stalls;  // times a reader had output ready but no credit
  Counter restarts;
};

struct BatcherMetrics {
  Counter batches_in, readings_in, batches_sealed, readings_sealed;
  Counter buffered_readings, peak_buffered_readings;
  Counter credit_stalls;  // times a sealed batch waited for writer credit
  Counter input_parked;   // reader batches held back because the buffer was full
  Counter peak_parked;    // most reader batches waiting un-credited at once
};

struct WriterMetrics {
  Counter batches, readings, parts, bytes, failures;
  Counter in_flight;  // batches sent to the writer and not yet durable or handed to safety
  Counter peak_in_flight;
  Counter latency_us_sum, latency_us_max;
  LatencyHistogram latency;  // per part write (Store::write, fsyncs included)
};

struct SafetyMetrics {
  Counter batches_held, retries, landed, dead_lettered, journal_failures, breaker_opens;
  Counter held_now;
};

struct CompactorMetrics {
  Counter compactions, parts_merged, rows_merged, failures;
  Counter last_step_us;  // duration of the latest merge (a gauge)
};

struct RollupMetrics {
  Counter definitions;        // rollups maintained (a gauge)
  Counter partitions_behind;  // readings partitions some rollup has yet to reflect (a gauge)
  Counter lag_us;             // how long the rollups have been behind now (a gauge; 0: caught up)
  Counter last_catch_up_us;   // from first seen behind to caught up, the latest time (a gauge)
  Counter refreshes, readings_read, rows_written, failures, reloads;
};

struct FileMetrics {
  Counter claimed, durable, rejected, skipped_duplicates;
};

// What one tenant's tokens may see of the daemon (GET /metrics with a tenant's token): its own
// files, readings and requests, counted per file or request, never per reading.
struct TenantCounters {
  Counter files_claimed, files_durable, files_rejected, bytes, readings_durable, rejects;
  Counter ingest_requests, forbidden, queries, query_rows;
};

class TenantMetrics {
 public:
  // A tenant's counters, made on first use; the reference stays valid. Const: counting is not
  // a change of what the metrics are (any thread holding them const adds to them).
  TenantCounters& of(const std::string& tenant) const {
    std::lock_guard lock(mutex_);
    auto& slot = tenants_[tenant];
    if (!slot) slot = std::make_unique<TenantCounters>();
    return *slot;
  }
  // Calls f(name, counters) for every tenant seen so far, in name order.
  template <class F>
  void each(F&& f) const {
    std::lock_guard lock(mutex_);
    for (const auto& [name, counters] : tenants_) f(name, *counters);
  }

 private:
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::unique_ptr<TenantCounters>> tenants_;
};

struct Metrics {
  ReaderMetrics reader;
  BatcherMetrics batcher;
  WriterMetrics writer;
  SafetyMetrics safety;
  FileMetrics files;
  CompactorMetrics compactor;
  RollupMetrics rollups;
  TenantMetrics tenants;   // per tenant (only when tenants are configured: see /metrics)
  ProgressBoard progress;  // per file in flight (not in to_json: see GET /v1/ingests/{id}/events)
  // One JSON object with every counter (for the log and, later, the HTTP endpoint).
  std::string to_json() const;
};

}  // namespace meterd::actors
