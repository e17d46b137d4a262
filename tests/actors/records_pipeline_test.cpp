// Register reads (NEM13 250 + 550) and B2B events (500) travel with their file: the store gets
// every one of them before the ledger records the file, and a file whose records could not be
// stored is left for the next start rather than reported durable.
#include <gtest/gtest.h>

#include "actors/config.hpp"
#include "actors/pipeline.hpp"
#include "app/list_intake.hpp"
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

}  // namespace
}  // namespace meterd::test
