// Compactor: the daemon's background merges (ClickHouse MergeTree style). Detached, because a
// merge blocks on reading, writing and fsyncing parts. Each tick runs bounded store steps (one
// merge of at most 16 parts each, under the store's lock) until no partition needs one or the
// tick's budget is spent. A tick that spent its whole budget is followed at once by another
// (through the mailbox, so a drain is still seen between them): a daemon acknowledging many
// small requests makes parts faster than one budget per interval removes them (a 10-minute
// soak ended with 28k parts that way). Only when no partition needs a merge does it sleep for
// compact_interval_ms. The writer waits for at most one merge at a time.
// A failing merge (I/O error, corrupt part) is logged and tried again next tick: the parts it
// would have replaced stay committed and readable, so the daemon never needs to stop for it.
#include <algorithm>
#include <chrono>
#include <exception>

#include "actors/config.hpp"
#include "actors/ingest_store.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace meterd::actors {
namespace {

struct CompactorState {
  CompactorState() = default;  // not an aggregate: CAF would try to build it from the actor
  IngestStore* store = nullptr;
  Metrics* metrics = nullptr;
  std::chrono::milliseconds interval{0};
  std::size_t min_parts = 0, budget = 0;
  std::shared_ptr<std::atomic<bool>> stop;
  static inline const char* name = "meterd.compactor";
};

using compactor_pointer = compactor_actor::stateful_pointer<CompactorState>;

// Runs one merge; false when nothing needed doing or it failed (then wait for the next tick).
bool run_step(CompactorState& st) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    const auto step = st.store->compact_step(st.min_parts);
    if (!step) return false;
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    auto& m = st.metrics->compactor;
    m.compactions.add();
    m.parts_merged.add(step->parts_in);
    m.rows_merged.add(step->rows_in);
    m.last_step_us.value.store(static_cast<std::uint64_t>(us), std::memory_order_relaxed);
    log::info("compaction", {{"partition", step->partition},
                             {"parts_in", std::uint64_t{step->parts_in}},
                             {"parts_left", std::uint64_t{step->parts_left}},
                             {"rows", step->rows_in},
                             {"rows_out", step->rows_out},
                             {"ms", static_cast<double>(us) / 1000.0}});
    return true;
  } catch (const std::exception& e) {
    st.metrics->compactor.failures.add();
    log::error("compaction_failed", {{"error", e.what()}});
    return false;
  }
}

compactor_actor::behavior_type compactor(compactor_pointer self, IngestStore* store, Config config,
                                         Metrics* metrics,
                                         std::shared_ptr<std::atomic<bool>> stop) {
  auto& st = self->state;
  st.store = store;
  st.metrics = metrics;
  st.interval = std::chrono::milliseconds(config.compact_interval_ms);
  st.min_parts = config.compact_min_parts;
  st.budget = std::max<std::uint32_t>(1, config.compact_steps_per_tick);
  st.stop = std::move(stop);
  self->delayed_send(self, st.interval, tick_atom::value);
  return {
      [=](tick_atom) {
        auto& st = self->state;
        std::size_t steps = 0;
        while (steps < st.budget && !st.stop->load() && run_step(st)) ++steps;
        if (st.stop->load()) return;
        if (steps == st.budget)
          self->send(self, tick_atom::value);  // more to merge: go on after the mailbox
        else
          self->delayed_send(self, st.interval, tick_atom::value);
      },
      [=](drain_atom) { self->quit(); },
  };
}

}  // namespace

compactor_actor spawn_compactor(caf::local_actor* parent, IngestStore& store, const Config& config,
                                Metrics& metrics, std::shared_ptr<std::atomic<bool>> stop) {
  return parent->spawn<caf::detached>(compactor, &store, config, &metrics, std::move(stop));
}

}  // namespace meterd::actors
