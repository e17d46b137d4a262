// Compactor: the daemon's background merges (ClickHouse MergeTree style). It asks the store
// actor for one bounded merge at a time (at most 16 parts), so a write waits behind at most one
// merge, and a drain gets in between any two. A round runs merges until no partition needs one
// or the round's budget is spent; a round that spent its whole budget is followed at once by
// another (a daemon acknowledging many small requests makes parts faster than one budget per
// interval removes them: a 10-minute soak ended with 28k parts that way). Only when no
// partition needs a merge does it sleep for compact_interval_ms.
// A failing merge (I/O error, corrupt part) is logged and tried again next round: the parts it
// would have replaced stay committed and readable, so the daemon never needs to stop for it.
#include <algorithm>
#include <chrono>
#include <ctime>

#include "actors/config.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "storage/partition.hpp"

namespace meterd::actors {
namespace {

struct CompactorState {
  CompactorState() = default;  // not an aggregate: CAF would try to build it from the actor
  store_actor store;
  Metrics* metrics = nullptr;
  std::chrono::milliseconds interval{0};
  std::uint32_t min_parts = 0;
  std::size_t budget = 0, steps = 0;  // merges per round, merges so far this round
  Config config;                      // its retention
  bool retention = false;             // some tenant's data is not kept forever
  bool asking = false;                // a merge is with the store
  static inline const char* name = "meterd.compactor";
};

using compactor_pointer = compactor_actor::stateful_pointer<CompactorState>;

// Counts what a step did; true if it merged something.
bool record(CompactorState& st, const CompactOutcome& out,
            std::chrono::steady_clock::time_point started) {
  if (!out.error.empty()) {
    st.metrics->compactor.failures.add();
    log::error("compaction_failed", {{"error", out.error}});
    return false;
  }
  if (!out.step) return false;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  auto& m = st.metrics->compactor;
  const auto& step = *out.step;
  m.compactions.add();
  m.parts_merged.add(step.parts_in);
  m.rows_merged.add(step.rows_in);
  m.last_step_us.value.store(static_cast<std::uint64_t>(us), std::memory_order_relaxed);
  log::info("compaction", {{"partition", step.partition},
                           {"parts_in", std::uint64_t{step.parts_in}},
                           {"parts_left", std::uint64_t{step.parts_left}},
                           {"rows", step.rows_in},
                           {"rows_out", step.rows_out},
                           {"ms", static_cast<double>(us) / 1000.0}});
  return true;
}

void ask(compactor_pointer self) {
  auto& st = self->state;
  st.asking = true;
  const auto started = std::chrono::steady_clock::now();
  self->request(st.store, caf::infinite, compact_atom::value, st.min_parts)
      .then(
          [=](CompactOutcome& out) {
            auto& st = self->state;
            st.asking = false;
            if (!record(st, out, started))
              self->delayed_send(self, st.interval, tick_atom::value);
            else if (++st.steps < st.budget)
              ask(self);
            else
              self->send(self, tick_atom::value);  // more to merge: a new round at once
          },
          [=](caf::error& e) {
            self->state.asking = false;
            log::error("compaction_failed", {{"error", self->system().render(e)}});
            self->delayed_send(self, self->state.interval, tick_atom::value);
          });
}

compactor_actor::behavior_type compactor(compactor_pointer self, store_actor store, Config config,
                                         Metrics* metrics) {
  auto& st = self->state;
  st.store = std::move(store);
  st.metrics = metrics;
  st.interval = std::chrono::milliseconds(config.compact_interval_ms);
  st.min_parts = config.compact_min_parts;
  st.budget = std::max<std::uint32_t>(1, config.compact_steps_per_tick);
  st.retention = config.retention_months > 0;
  for (const auto& [tenant, months] : config.tenant_retention) st.retention |= months > 0;
  st.config = std::move(config);
  self->delayed_send(self, st.interval, tick_atom::value);
  return {
      [=](tick_atom) {
        auto& st = self->state;
        if (st.asking) return;
        st.steps = 0;
        if (!st.retention) return ask(self);
        st.asking = true;
        RetentionRequest request;
        request.kept = [config = st.config](std::string_view tenant) {
          return config.months_kept(tenant);
        };
        request.now = storage::month_of(static_cast<epoch_seconds>(std::time(nullptr)));
        request.archive_dir = st.config.retention_archive_dir;
        self->request(st.store, caf::infinite, retention_atom::value, std::move(request))
            .then(
                [=](RetentionOutcome& out) {
                  if (!out.error.empty()) log::error("retention_failed", {{"error", out.error}});
                  ask(self);
                },
                [=](caf::error& e) {
                  log::error("retention_failed", {{"error", self->system().render(e)}});
                  ask(self);
                });
      },
      [=](drain_atom) { self->quit(); },
  };
}

}  // namespace

compactor_actor spawn_compactor(caf::local_actor* parent, store_actor store, const Config& config,
                                Metrics& metrics) {
  return parent->spawn(compactor, std::move(store), config, &metrics);
}

}  // namespace meterd::actors
