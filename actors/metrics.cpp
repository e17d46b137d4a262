#include "actors/metrics.hpp"

#include <cstdio>
#include <initializer_list>
#include <utility>

namespace meterd::actors {
namespace {

std::string group(const char* name,
                  std::initializer_list<std::pair<const char*, const Counter*>> counters) {
  std::string out = std::string("\"") + name + "\":{";
  bool first = true;
  for (auto [key, c] : counters) {
    if (!first) out += ',';
    first = false;
    out += std::string("\"") + key + "\":" + std::to_string(c->get());
  }
  return out + "}";
}

}  // namespace

std::string Metrics::to_json() const {
  const auto& r = reader;
  const auto& b = batcher;
  const auto& w = writer;
  const auto& s = safety;
  const auto& f = files;
  const auto& c = compactor;
  // Appended piece by piece: one long operator+ chain trips GCC 12's -Wrestrict.
  std::string out = "{";
  out += group("reader", {{"files_started", &r.files_started},
                          {"files_finished", &r.files_finished},
                          {"bytes", &r.bytes},
                          {"readings", &r.readings},
                          {"rejects", &r.rejects},
                          {"warnings", &r.warnings},
                          {"batches_sent", &r.batches_sent},
                          {"credit_stalls", &r.credit_stalls},
                          {"restarts", &r.restarts}});
  out += ',';
  out += group("batcher", {{"batches_in", &b.batches_in},
                           {"readings_in", &b.readings_in},
                           {"batches_sealed", &b.batches_sealed},
                           {"readings_sealed", &b.readings_sealed},
                           {"buffered_readings", &b.buffered_readings},
                           {"peak_buffered_readings", &b.peak_buffered_readings},
                           {"credit_stalls", &b.credit_stalls},
                           {"input_parked", &b.input_parked},
                           {"peak_parked", &b.peak_parked}});
  out += ',';
  out += group("writer", {{"batches", &w.batches},
                          {"readings", &w.readings},
                          {"parts", &w.parts},
                          {"bytes", &w.bytes},
                          {"failures", &w.failures},
                          {"in_flight", &w.in_flight},
                          {"peak_in_flight", &w.peak_in_flight},
                          {"latency_us_sum", &w.latency_us_sum},
                          {"latency_us_max", &w.latency_us_max}});
  out += ',';
  out += group("safety", {{"batches_held", &s.batches_held},
                          {"retries", &s.retries},
                          {"landed", &s.landed},
                          {"dead_lettered", &s.dead_lettered},
                          {"journal_failures", &s.journal_failures},
                          {"breaker_opens", &s.breaker_opens},
                          {"held_now", &s.held_now}});
  out += ',';
  out += group("files", {{"claimed", &f.claimed},
                         {"durable", &f.durable},
                         {"rejected", &f.rejected},
                         {"skipped_duplicates", &f.skipped_duplicates}});
  out += ',';
  out += group("compactor", {{"compactions", &c.compactions},
                             {"parts_merged", &c.parts_merged},
                             {"rows_merged", &c.rows_merged},
                             {"failures", &c.failures},
                             {"last_step_us", &c.last_step_us}});
  out += ',';
  const auto& u = rollups;
  out += group("rollups", {{"definitions", &u.definitions},
                           {"partitions_behind", &u.partitions_behind},
                           {"lag_us", &u.lag_us},
                           {"last_catch_up_us", &u.last_catch_up_us},
                           {"refreshes", &u.refreshes},
                           {"readings_read", &u.readings_read},
                           {"rows_written", &u.rows_written},
                           {"failures", &u.failures}});
  out += '}';
  return out;
}

}  // namespace meterd::actors
