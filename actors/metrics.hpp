// Per-actor counters. Actors only add to them (relaxed atomics, no locks on the hot path);
// the log's periodic metrics line, the progress bar and the closing summary read them.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

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
};

struct SafetyMetrics {
  Counter batches_held, retries, landed, dead_lettered, journal_failures, breaker_opens;
  Counter held_now;
};

struct FileMetrics {
  Counter claimed, durable, rejected, skipped_duplicates;
};

struct Metrics {
  ReaderMetrics reader;
  BatcherMetrics batcher;
  WriterMetrics writer;
  SafetyMetrics safety;
  FileMetrics files;
  // One JSON object with every counter (for the log and, later, the HTTP endpoint).
  std::string to_json() const;
};

}  // namespace meterd::actors
