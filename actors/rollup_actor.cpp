// Rollups: a detached actor (it reads readings and fsyncs rollup parts) that keeps every rollup
// of storage/rollup_store.hpp up with the durable readings. Each round opens a read-only
// snapshot of the data directory (the manifest as it is on disk: only durable readings), finds
// the partitions some rollup is behind on and recomputes them. A round that fails (I/O error,
// corrupt part) is logged and tried again next round: the old rollup parts stay as they were.
#include <chrono>
#include <memory>

#include "actors/config.hpp"
#include "actors/defaults.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/rollup_control.hpp"
#include "storage/rollup_store.hpp"

namespace meterd::actors {
namespace {

using Clock = std::chrono::steady_clock;

struct RollupState {
  RollupState() = default;  // not an aggregate: CAF would try to build it from the actor
  std::filesystem::path data_dir;
  RollupControl* control = nullptr;
  Metrics* metrics = nullptr;
  std::chrono::milliseconds interval{0};
  std::unique_ptr<storage::RollupStore> store;
  std::optional<Clock::time_point> behind_since;
  static inline const char* name = "meterd.rollups";
};

using rollup_pointer = rollup_actor::stateful_pointer<RollupState>;

std::uint64_t us_since(Clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count());
}

void take_definitions(RollupState& st) {
  auto offered = st.control->take();
  if (!offered) return;
  std::string names;
  for (const auto& d : *offered) names += (names.empty() ? "" : ",") + d.name;
  st.store.reset();  // before the new one: it may remove a changed definition's directory
  st.store = std::make_unique<storage::RollupStore>(st.data_dir, std::move(*offered));
  st.metrics->rollups.definitions.value = st.store->definitions().size();
  st.metrics->rollups.reloads.add();
  log::info("rollups", {{"definitions", names}});
}

// One round: every partition behind, from one snapshot.
void catch_up(RollupState& st) {
  auto& m = st.metrics->rollups;
  try {
    take_definitions(st);
    if (!st.store || st.store->definitions().empty()) {
      m.partitions_behind.value = 0;
      m.lag_us.value = 0;
      return;
    }
    storage::StoreOptions options;
    options.read_only = true;
    const storage::Store snapshot(st.data_dir, options);
    const auto behind = st.store->behind(snapshot);
    m.partitions_behind.value = behind.size();
    if (behind.empty()) {
      m.lag_us.value = 0;
      st.behind_since.reset();
      return;
    }
    if (!st.behind_since) st.behind_since = Clock::now();
    std::size_t left = behind.size();
    auto started = Clock::now();
    st.store->catch_up(
        snapshot, behind,
        [&](const storage::RollupRefresh& done) {
          m.partitions_behind.value = --left;
          m.lag_us.value = us_since(*st.behind_since);
          m.refreshes.add();
          m.readings_read.add(done.readings);
          m.rows_written.add(done.rows);
          log::info("rollup_refresh", {{"partition", done.partition},
                                       {"rollups", std::uint64_t{done.rollups}},
                                       {"readings", done.readings},
                                       {"rows", done.rows},
                                       {"ms", static_cast<double>(us_since(started)) / 1000.0}});
          started = Clock::now();
        },
        defaults::rollup_threads);
    m.last_catch_up_us.value = us_since(*st.behind_since);
    // Caught up with this snapshot; what landed since is the next round's.
    st.behind_since.reset();
    m.lag_us.value = 0;
  } catch (const std::exception& e) {
    m.failures.add();
    if (st.behind_since) m.lag_us.value = us_since(*st.behind_since);
    log::error("rollup_failed", {{"error", e.what()}});
  }
}

rollup_actor::behavior_type rollups(rollup_pointer self, Config config, RollupControl* control,
                                    Metrics* metrics) {
  auto& st = self->state;
  st.data_dir = config.data_dir;
  st.control = control;
  st.metrics = metrics;
  st.interval = std::chrono::milliseconds(std::max<std::uint32_t>(1, config.rollup_interval_ms));
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        auto& st = self->state;
        const auto started = Clock::now();
        catch_up(st);
        // The next round an interval after this one began (at once if it took longer).
        const auto spent = Clock::now() - started;
        self->delayed_send(self, spent >= st.interval ? Clock::duration(0) : st.interval - spent,
                           tick_atom::value);
      },
      [=](drain_atom) {
        catch_up(self->state);
        self->quit();
      },
  };
}

}  // namespace

rollup_actor spawn_rollups(caf::local_actor* parent, const Config& config, RollupControl& control,
                           Metrics& metrics) {
  return parent->spawn<caf::detached>(rollups, config, &control, &metrics);
}

}  // namespace meterd::actors
