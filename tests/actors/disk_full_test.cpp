// The safety path against the real store: part writes fail (ENOSPC injected under the store
// facade) for a while, the batches wait in the journal, and once space returns everything
// lands: `meterd query` then shows every reading exactly once.
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "actors/config.hpp"
#include "actors/pipeline.hpp"
#include "app/list_intake.hpp"
#include "storage/journal.hpp"
#include "tests/actors/actor_fakes.hpp"
#include "tests/app/subprocess.hpp"
#include "tests/test_support.hpp"

namespace meterd::test {
namespace {

TEST(DiskFullTest, HeldBatchesLandInTheRealStoreWhenSpaceReturns) {
  auto dir = make_temp_dir("meterd-diskfull");
  auto gen = generate_files(dir / "in", 3, 10, 40);
  actors::Config config;
  config.data_dir = dir / "data";
  config.spool_dir = dir / "spool";
  config.batch_readings = 8192;
  config.batcher_max_readings = 16384;
  config.flush_interval_ms = 50;
  config.retry_initial_ms = 5;
  config.retry_max_ms = 20;
  config.max_retries = 1000;
  config.metrics_interval_ms = 0;
  config.log_level = "error";
  std::uint64_t journaled_at_peak = 0;
  {
    auto real = actors::open_store(config.data_dir);
    FlakyStore store(*real);
    store.failing = true;
    app::ListIntake intake(gen.paths);
    actors::Metrics metrics;
    std::thread disk([&] {
      while (metrics.safety.retries.get() < 5)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      journaled_at_peak = storage::journal::list(config.effective_journal_dir()).size();
      store.failing = false;
    });
    auto result = actors::run_pipeline(config, store, intake, metrics);
    disk.join();
    EXPECT_TRUE(result.ok);
    for (const auto& o : intake.outcomes())
      EXPECT_EQ(o.status, actors::FileStatus::durable) << o.file.name;
    EXPECT_GE(store.failures.load(), 5u);
    EXPECT_GE(metrics.safety.landed.get(), 1u);
  }
  EXPECT_GE(journaled_at_peak, 1u) << "failed batches were not journaled";
  EXPECT_TRUE(storage::journal::list(config.effective_journal_dir()).empty());

  auto out = dir / "query.csv";
  ASSERT_EQ(run_to_file({meterd_binary().string(), "query", "--data-dir", config.data_dir.string()},
                        out, dir / "query.log"),
            0);
  std::istringstream in(read_file(out));
  std::uint64_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, gen.distinct + 1);  // + header
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
