// Register reads (NEM13 250 + 550) and B2B events (500) travel with their file: the store gets
// every one of them before the ledger records the file, and a file whose records could not be
// stored is left for the next start rather than reported durable.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>

#include "actors/config.hpp"
#include "actors/pipeline.hpp"
#include "app/list_intake.hpp"
#include "protocol/nem12_generator.hpp"
#include "tests/actors/actor_fakes.hpp"
#include "tests/test_support.hpp"

namespace meterd::test {
namespace {

using actors::FileStatus;

const char* const kFilesWithRecords[] = {
    "nem13_forward_estimate_250_550.csv", "nem13_meter_change_550_kW_demand.csv",
    "nem13_multi_nmi_excel_padded.csv", "aemo_s09_500_b2b_V_E52_estimates.csv",
    "embedded_network_10_meters_500_after_each_300.csv"};

actors::Config records_config(const std::filesystem::path& dir) {
  actors::Config c;
  c.data_dir = dir / "data";
  c.spool_dir = dir / "spool";
  c.files_in_flight = 2;
  c.read_chunk_bytes = 4096;  // records arrive over many chunks
  c.metrics_interval_ms = 0;
  c.log_level = "error";
  return c;
}

struct RecordsPipeline : ::testing::Test {
  std::filesystem::path dir = make_temp_dir("meterd-records");
  ~RecordsPipeline() override { std::filesystem::remove_all(dir); }

  std::vector<std::filesystem::path> inputs(const std::filesystem::path& samples) {
    std::vector<std::filesystem::path> out;
    for (const char* name : kFilesWithRecords) out.push_back(samples / name);
    return out;
  }
};

TEST_F(RecordsPipeline, EveryRegisterReadAndB2BEventReachesTheStore) {
  METERD_REQUIRE_SHARED(shared);
  FakeStore store;
  app::ListIntake intake(inputs(shared / "data/nem12/samples"));
  actors::Metrics metrics;
  ASSERT_TRUE(actors::run_pipeline(records_config(dir), store, intake, metrics).ok);
  std::uint64_t register_reads = 0, b2b_events = 0;
  const auto outcomes = intake.outcomes();
  ASSERT_EQ(outcomes.size(), std::size(kFilesWithRecords));
  for (const auto& o : outcomes) {
    EXPECT_EQ(o.status, FileStatus::durable) << o.file.name << ": " << o.error;
    register_reads += o.register_reads;
    b2b_events += o.b2b_events;
  }
  // The samples' 250 and 500 lines (grep -c), each a key of its own, less the one 250 whose
  // Quantity is not a number ('8. 77', line 4 of nem13_meter_change_550_kW_demand.csv).
  EXPECT_EQ(register_reads, 16u - 1u);
  EXPECT_EQ(b2b_events, 87u);
  EXPECT_EQ(store.distinct_register_reads(), register_reads);
  EXPECT_EQ(store.distinct_b2b_events(), b2b_events);
}

TEST_F(RecordsPipeline, AFileWhoseRecordsFailIsLeftForTheNextStart) {
  METERD_REQUIRE_SHARED(shared);
  FakeStore store;
  store.failing_records = true;
  app::ListIntake intake(inputs(shared / "data/nem12/samples"));
  actors::Metrics metrics;
  ASSERT_TRUE(actors::run_pipeline(records_config(dir), store, intake, metrics).ok);
  const auto outcomes = intake.outcomes();
  ASSERT_EQ(outcomes.size(), std::size(kFilesWithRecords));
  for (const auto& o : outcomes) {
    EXPECT_EQ(o.status, FileStatus::failed) << o.file.name;
    EXPECT_NE(o.error.find("register reads and B2B events not stored"), std::string::npos)
        << o.error;
  }
  EXPECT_EQ(store.distinct_register_reads(), 0u);
  // The readings of those files are durable all the same: a re-read lands them as the same
  // versions.
  EXPECT_GT(store.readings.load(), 0u);
}

// A reader holds at most reader_records_per_write records (plus what the parser hands on at
// once, 4,096 at most): beyond that the store writes them and the reader goes on once it has.
// Nothing is lost or doubled, and a failed early write fails the file as a failed last write
// does.
TEST_F(RecordsPipeline, RecordsAreWrittenAsTheyAccumulateNotHeldToTheEndOfTheFile) {
  GeneratorOptions options;
  options.nmis = 80;
  options.days = 100;
  options.b2b_fraction = 1.0;
  GeneratorStats stats;
  const auto file = dir / "b2b.csv";
  std::ofstream(file) << generate_nem12_string(options, &stats);
  ASSERT_GT(stats.b2b_events, 3u * 4096u);
  auto config = records_config(dir);
  config.read_chunk_bytes = 1u << 16;
  auto run = [&](std::uint32_t per_write, bool failing) {
    config.reader_records_per_write = per_write;
    auto store = std::make_unique<FakeStore>();
    store->failing_records = failing;
    app::ListIntake intake({file});
    actors::Metrics metrics;
    EXPECT_TRUE(actors::run_pipeline(config, *store, intake, metrics).ok);
    const auto outcomes = intake.outcomes();
    EXPECT_EQ(outcomes.size(), 1u);
    for (const auto& o : outcomes) {
      EXPECT_EQ(o.status, failing ? FileStatus::failed : FileStatus::durable) << o.error;
      if (failing) {
        EXPECT_NE(o.error.find("register reads and B2B events not stored"), std::string::npos);
      }
    }
    return store;
  };
  const auto whole = run(1u << 30, false);
  EXPECT_EQ(whole->record_writes.load(), 1u);
  const auto chunked = run(4096, false);
  EXPECT_EQ(chunked->distinct_b2b_events(), whole->distinct_b2b_events());
  EXPECT_GE(chunked->record_writes.load(), 2u);
  EXPECT_LE(chunked->largest_record_write.load(), 2u * 4096u);
  run(4096, true);
}

}  // namespace
}  // namespace meterd::test
