// The compactor inside the pipeline, against a scripted store: a throwing step is counted and
// retried on the next tick without taking anything down, a tick stops at its budget, and a
// drain stops it promptly, after the step in progress.
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>

#include "actors/config.hpp"
#include "actors/pipeline.hpp"
#include "app/http_metrics.hpp"
#include "app/spool_intake.hpp"
#include "tests/actors/actor_fakes.hpp"
#include "tests/test_support.hpp"

namespace meterd::test {
namespace {

// Step 1 throws; then `steps` merges of 3 parts; then nothing to do. Each step takes `step_ms`.
class CompactingStore : public FakeStore {
 public:
  std::atomic<int> calls{0}, steps{6};
  std::chrono::milliseconds step_ms{0};
  std::atomic<bool> in_step{false};
  std::optional<storage::CompactionStep> compact_step(std::size_t min_parts) override {
    in_step = true;
    std::this_thread::sleep_for(step_ms);
    in_step = false;
    if (++calls == 1) throw std::runtime_error("injected compaction failure");
    if (steps.fetch_sub(1) <= 0) return std::nullopt;
    return storage::CompactionStep{"month=2024-01", 3, min_parts, 300, 100};
  }
};

actors::Config compactor_config(const std::filesystem::path& dir) {
  actors::Config c;
  c.data_dir = dir / "data";
  c.spool_dir = dir / "spool";
  c.compact_interval_ms = 20;
  c.compact_steps_per_tick = 4;
  c.metrics_interval_ms = 0;
  c.log_level = "error";
  return c;
}

TEST(CompactorTest, FailedStepIsRetriedAndStepsAreCounted) {
  const auto dir = make_temp_dir("meterd-compactor");
  const auto config = compactor_config(dir);
  CompactingStore store;
  app::SpoolIntake intake(config);
  actors::Metrics metrics;
  std::atomic<bool> stop{false};
  actors::RunOptions options;
  options.drain_on_signal = false;
  options.background_compaction = true;
  options.stop = &stop;
  options.progress_interval = std::chrono::milliseconds(5);
  options.on_progress = [&] {
    if (store.calls.load() >= 12) stop = true;  // well past the scripted steps
  };
  const auto result = actors::run_pipeline(config, store, intake, metrics, options);
  EXPECT_TRUE(result.ok);
  const auto& m = metrics.compactor;
  EXPECT_EQ(m.failures.get(), 1u);
  EXPECT_EQ(m.compactions.get(), 6u);
  EXPECT_EQ(m.parts_merged.get(), 18u);
  EXPECT_EQ(m.rows_merged.get(), 1800u);
  EXPECT_NE(metrics.to_json().find("\"compactor\":{\"compactions\":6,"), std::string::npos);
  EXPECT_NE(
      app::render_prometheus(metrics, app::HttpMetrics{}).find("meterd_compactions_total 6\n"),
      std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(CompactorTest, OffUnlessAskedForOrWithZeroInterval) {
  const auto dir = make_temp_dir("meterd-compactor");
  for (const bool asked : {false, true}) {
    auto config = compactor_config(dir);
    if (asked) config.compact_interval_ms = 0;
    CompactingStore store;
    app::SpoolIntake intake(config);
    actors::Metrics metrics;
    std::atomic<bool> stop{false};
    actors::RunOptions options;
    options.drain_on_signal = false;
    options.background_compaction = asked;
    options.stop = &stop;
    const auto t0 = std::chrono::steady_clock::now();
    options.on_progress = [&] {
      if (std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(200)) stop = true;
    };
    options.progress_interval = std::chrono::milliseconds(5);
    actors::run_pipeline(config, store, intake, metrics, options);
    EXPECT_EQ(store.calls.load(), 0) << "asked=" << asked;
  }
  std::filesystem::remove_all(dir);
}

TEST(CompactorTest, DrainWaitsForTheStepInProgressOnly) {
  const auto dir = make_temp_dir("meterd-compactor");
  auto config = compactor_config(dir);
  config.compact_steps_per_tick = 100;
  CompactingStore store;
  store.steps = 1000;
  store.step_ms = std::chrono::milliseconds(100);
  app::SpoolIntake intake(config);
  actors::Metrics metrics;
  std::atomic<bool> stop{false};
  std::chrono::steady_clock::time_point stopped_at;
  actors::RunOptions options;
  options.drain_on_signal = false;
  options.background_compaction = true;
  options.stop = &stop;
  options.progress_interval = std::chrono::milliseconds(5);
  options.on_progress = [&] {
    if (!stop && store.calls.load() >= 3 && store.in_step) {
      stopped_at = std::chrono::steady_clock::now();
      stop = true;
    }
  };
  actors::run_pipeline(config, store, intake, metrics, options);
  const auto drain = std::chrono::steady_clock::now() - stopped_at;
  // A whole tick's budget would be 100 x 100 ms; the drain waits for about one step.
  EXPECT_LT(drain, std::chrono::milliseconds(1500));
  EXPECT_LT(store.calls.load(), 10);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
