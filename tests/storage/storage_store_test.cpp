// Store: write + merge-on-read, idempotency, supersession, compaction, crash injection at
// every lifecycle step, corruption, ledger and the file-sequence counter.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <numeric>

#include "storage/part_reader.hpp"
#include "storage/store.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

struct InjectedCrash {};

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = meterd::test::make_temp_dir("meterd-store"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Three files' worth of batches: overlapping keys, different versions, two months.
  static std::vector<ReadingBatch> versions() {
    std::vector<ReadingBatch> out;
    for (int f = 0; f < 3; ++f) {
      FixtureOptions o;
      o.days = 40;  // spans March and April 2005 (NEM time)
      o.nmis = 3;
      o.seed = 10 + f;
      o.file_sequence = 100 + f;
      // File 1 is the newest by UpdateDateTime; file 2 ties with file 0 on UpdateDateTime and
      // wins by file creation time.
      o.update_datetime = f == 1 ? 1120000000 : 1110000000;
      o.file_created = 1109000000 + f * 1000;
      out.push_back(make_batch(o));
    }
    return out;
  }

  void expect_no_orphans(const Store& store) {
    const DirScan scan = scan_readings(store.data_dir());
    EXPECT_TRUE(scan.temporaries.empty()) << *scan.temporaries.begin();
    EXPECT_EQ(scan.parquet, manifest_paths(store));
  }

  std::filesystem::path dir_;
};

TEST_F(StoreTest, QueryReturnsEveryReadingOnceInKeyOrder) {
  FixtureOptions o;
  o.days = 35;
  const ReadingBatch b = make_batch(o);
  Model model;
  model.add(b);
  Store store(dir_);
  const auto parts = store.write(b);
  ASSERT_EQ(parts.size(), 2u);  // March and April
  EXPECT_EQ(parts[0].partition, "month=2005-03");
  EXPECT_EQ(parts[1].partition, "month=2005-04");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "readings" / "month=2005-03"));
  EXPECT_EQ(query_csv(store), model.csv());
  expect_no_orphans(store);
}

// A run over consecutive lines (NDJSON) is stored with each reading's line, and a later line of
// the same version supersedes an earlier one, before and after compaction.
TEST_F(StoreTest, ReadingsOnConsecutiveLinesKeepTheirLinesAndTheLaterLineWins) {
  const epoch_seconds day = 1109599200;  // 2005-03-01T00:00+10:00
  ReadingBatch b;
  ReadingRun& run = add_run(b, "NMI1", "E1", day, 30, {1, 2, 3, 4});
  run.line = 10, run.line_step = 1;
  add_run(b, "NMI1", "E1", day + 1800, 30, {9}).line = 12;  // line 12 repeats interval 2
  add_run(b, "NMI1", "E1", day + 3600, 30, {8}).line = 11;  // loses to the run's line 12
  Store store(dir_);
  store.write(b);
  std::vector<std::pair<double, std::uint32_t>> rows;
  auto collect = [&] {
    rows.clear();
    store.query({}, [&](const ReadingBatch& q) {
      q.for_each([&](const ReadingRow& r) { rows.emplace_back(r.value, r.line); });
    });
  };
  collect();
  const std::vector<std::pair<double, std::uint32_t>> want = {{1, 10}, {9, 12}, {3, 12}, {4, 13}};
  EXPECT_EQ(rows, want);
  store.write(b);  // the same again: no change
  store.compact();
  collect();
  EXPECT_EQ(rows, want);
}

TEST_F(StoreTest, SameDataTwiceGivesIdenticalOutput) {
  const auto batches = versions();
  std::string once, twice;
  {
    Store store(dir_ / "a");
    store.write(batches[0]);
    once = query_csv(store);
  }
  {
    Store store(dir_ / "b");
    store.write(batches[0]);
    store.write(batches[0]);
    twice = query_csv(store);
    store.compact();
    EXPECT_EQ(query_csv(store), twice);
  }
  EXPECT_EQ(once, twice);
}

TEST_F(StoreTest, EveryApplicationOrderGivesTheSameNewestVersions) {
  const auto batches = versions();
  Model model;
  for (const auto& b : batches) model.add(b);
  const std::string expected = model.csv();
  std::vector<int> order{0, 1, 2};
  int n = 0;
  do {
    Store store(dir_ / std::to_string(n++));
    for (int i : order) store.write(batches[i]);
    EXPECT_EQ(query_csv(store), expected) << "order " << order[0] << order[1] << order[2];
    store.compact();
    EXPECT_EQ(query_csv(store), expected) << "after compaction";
    for (const auto& p : store.parts()) EXPECT_EQ(PartReader(p.path).rows(), p.rows);
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(n, 6);
}

TEST_F(StoreTest, SupersessionRules) {
  auto one = [](double value, epoch_seconds update, epoch_seconds created, std::uint64_t seq) {
    ReadingBatch b;
    auto& run = add_run(b, "NMI1", "E1", 1109599200, 30, {value});
    run.update_datetime = update, run.file_created = created, run.file_sequence = seq;
    return b;
  };
  auto value_after = [&](std::vector<ReadingBatch> writes) {
    const auto d = dir_ / std::to_string(std::rand());
    Store store(d);
    for (const auto& b : writes) store.write(b);
    std::vector<double> got;
    store.query({}, [&](const ReadingBatch& b) {
      got.insert(got.end(), b.values.begin(), b.values.end());
    });
    EXPECT_EQ(got.size(), 1u);
    return got.empty() ? -1 : got[0];
  };
  // Newer UpdateDateTime wins, whatever the arrival order.
  EXPECT_EQ(value_after({one(1, 100, 5, 1), one(2, 200, 5, 2)}), 2);
  EXPECT_EQ(value_after({one(2, 200, 5, 2), one(1, 100, 5, 3)}), 2);  // an older re-send loses
  // Tie on UpdateDateTime: the later file creation datetime wins.
  EXPECT_EQ(value_after({one(3, 100, 9, 1), one(4, 100, 8, 2)}), 3);
  // Tie on both: the higher file sequence wins, not the later write.
  EXPECT_EQ(value_after({one(6, 100, 9, 7), one(5, 100, 9, 6)}), 6);
  // A reading without UpdateDateTime loses to one with it.
  EXPECT_EQ(value_after({one(7, 100, 9, 1), one(8, kNoTime, 9, 2)}), 7);
  // Two versions of one key inside a single batch.
  ReadingBatch both = one(1, 100, 5, 1);
  auto& newer = add_run(both, "NMI1", "E1", 1109599200, 30, {9});
  newer.update_datetime = 300, newer.file_sequence = 1;
  EXPECT_EQ(value_after({both}), 9);
}

TEST_F(StoreTest, QueryFiltersAndPruning) {
  const auto batches = versions();
  Model model;
  Store store(dir_);
  for (const auto& b : batches) model.add(b), store.write(b);
  QueryFilter f;
  f.nmi = "NMI0001001";
  EXPECT_EQ(query_csv(store, f), model.csv(f));
  f.suffix = "B1";
  EXPECT_EQ(query_csv(store, f), model.csv(f));
  f = {};
  f.from = 1109599200 + 86400 * 3;
  f.to = 1109599200 + 86400 * 33 + 1800 * 5;
  EXPECT_EQ(query_csv(store, f), model.csv(f));
  f.nmi = "NMI-absent";
  EXPECT_EQ(query_csv(store, f), "");
}

TEST_F(StoreTest, CompactionLeavesOnePartPerPartitionAndSameAnswers) {
  const auto batches = versions();
  Model model;
  Store store(dir_);
  for (const auto& b : batches) model.add(b), store.write(b);
  EXPECT_EQ(store.parts().size(), 6u);
  EXPECT_EQ(store.compact(), 2u);
  ASSERT_EQ(store.parts().size(), 2u);
  std::uint64_t rows = 0;
  for (const auto& p : store.parts()) rows += p.rows;
  EXPECT_EQ(rows, model.size());  // duplicate-free
  EXPECT_EQ(query_csv(store), model.csv());
  expect_no_orphans(store);
  EXPECT_EQ(store.compact(), 0u);  // nothing left to merge
}

TEST_F(StoreTest, CompactionOfManyPartsMergesInBoundedGroups) {
  Model model;
  Store store(dir_);
  for (int f = 0; f < 40; ++f) {  // more parts than one merge takes at once
    FixtureOptions o;
    o.nmis = 2, o.days = 2 + f % 3, o.seed = 100 + f, o.file_sequence = 1 + f;
    o.update_datetime = 1110000000 + (f * 7919) % 13;  // versions in no particular order
    const ReadingBatch b = make_batch(o);
    model.add(b);
    store.write(b);
  }
  EXPECT_EQ(store.parts().size(), 40u);
  EXPECT_EQ(store.compact(), 1u);
  ASSERT_EQ(store.parts().size(), 1u);
  EXPECT_EQ(store.parts()[0].rows, model.size());
  EXPECT_EQ(query_csv(store), model.csv());
  expect_no_orphans(store);
}

TEST_F(StoreTest, CrashAtEveryWriteStepLosesNothingAndLeavesNoOrphan) {
  const auto batches = versions();
  Model model;
  for (const auto& b : batches) model.add(b);
  for (LifecycleStep step :
       {LifecycleStep::kTempWritten, LifecycleStep::kTempSynced, LifecycleStep::kRenamed,
        LifecycleStep::kDirSynced, LifecycleStep::kRecorded}) {
    SCOPED_TRACE(to_string(step));
    const auto d = dir_ / to_string(step);
    {
      Store store(d);
      store.write(batches[0]);
    }
    bool acknowledged = false;
    {
      StoreOptions o;
      o.fault_hook = [&](LifecycleStep s, const std::filesystem::path&) {
        if (s == step) throw InjectedCrash{};
      };
      Store store(d, o);
      try {
        store.write(batches[1]);
        acknowledged = true;
      } catch (const InjectedCrash&) {
      }
    }                // the process "dies": no cleanup beyond what a crash leaves
    Store store(d);  // recovery
    expect_no_orphans(store);
    EXPECT_EQ(store.recovery().corrupt_parts, 0u);
    if (step == LifecycleStep::kRecorded) {
      // Crash after the record: the batch is durable; a replay (not acknowledged) is harmless.
      EXPECT_FALSE(acknowledged);
    }
    // The ingest pipeline replays what was not acknowledged; replaying is idempotent.
    store.write(batches[1]);
    store.write(batches[2]);
    EXPECT_EQ(query_csv(store), model.csv());
    expect_no_orphans(store);
  }
}

TEST_F(StoreTest, CrashDuringCompactionKeepsOneCopyOfEverything) {
  const auto batches = versions();
  Model model;
  for (const auto& b : batches) model.add(b);
  for (LifecycleStep step :
       {LifecycleStep::kTempWritten, LifecycleStep::kRenamed, LifecycleStep::kDirSynced,
        LifecycleStep::kRecorded, LifecycleStep::kOldPartsRemoved}) {
    SCOPED_TRACE(to_string(step));
    const auto d = dir_ / ("c-" + std::string(to_string(step)));
    {
      Store store(d);
      for (const auto& b : batches) store.write(b);
    }
    {
      StoreOptions o;
      o.fault_hook = [&](LifecycleStep s, const std::filesystem::path&) {
        if (s == step) throw InjectedCrash{};
      };
      Store store(d, o);
      EXPECT_THROW(store.compact(), InjectedCrash);
    }
    Store store(d);
    expect_no_orphans(store);
    EXPECT_EQ(query_csv(store), model.csv());
    store.compact();
    EXPECT_EQ(query_csv(store), model.csv());
    expect_no_orphans(store);
  }
}

TEST_F(StoreTest, CorruptPartIsDetectedAndNotServed) {
  const auto batches = versions();
  std::filesystem::path victim;
  {
    Store store(dir_);
    store.write(batches[0]);
    store.write(batches[1]);
    victim = store.parts().front().path;
  }
  std::string bytes = meterd::test::read_file(victim);
  bytes[bytes.size() / 2] ^= 0x20;
  std::ofstream(victim, std::ios::binary | std::ios::trunc) << bytes;
  {
    // A reader that opens without recovery (meterd query) refuses to serve the part.
    StoreOptions ro;
    ro.read_only = true;
    Store reader(dir_, ro);
    EXPECT_THROW(query_csv(reader), CorruptPart);
  }
  Store store(dir_);  // recovery: checksum mismatch -> quarantined, out of the manifest
  EXPECT_EQ(store.recovery().corrupt_parts, 1u);
  EXPECT_FALSE(std::filesystem::exists(victim));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "quarantine"));
  EXPECT_EQ(store.parts().size(), 3u);
  // What is served is exactly what the intact parts hold.
  EXPECT_NO_THROW(query_csv(store));
  expect_no_orphans(store);
}

TEST_F(StoreTest, TornManifestTailIsIgnored) {
  const auto batches = versions();
  std::string before;
  {
    Store store(dir_);
    store.write(batches[0]);
    before = query_csv(store);
  }
  std::ofstream(dir_ / "manifest" / "MANIFEST", std::ios::app) << "deadbeef + month=2005-03 part";
  Store store(dir_);
  EXPECT_EQ(query_csv(store), before);
  store.write(batches[1]);  // appends after the cut tail
  Model model;
  model.add(batches[0]), model.add(batches[1]);
  EXPECT_EQ(query_csv(store), model.csv());
}

TEST_F(StoreTest, LedgerAndSequenceSurviveRestart) {
  std::uint64_t last = 0;
  {
    Store store(dir_);
    EXPECT_FALSE(store.ledger_contains("abc"));
    last = store.next_file_sequence();
    EXPECT_GT(store.next_file_sequence(), last);
    last = store.next_file_sequence();
    store.ledger_record("abc", "file one.csv", last);
    EXPECT_TRUE(store.ledger_contains("abc"));
  }
  Store store(dir_);
  EXPECT_TRUE(store.ledger_contains("abc"));
  EXPECT_FALSE(store.ledger_contains("abd"));
  EXPECT_GT(store.next_file_sequence(), last);
}

TEST_F(StoreTest, RelativeDataDirAndMalformedBatch) {
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  {
    Store store("data");
    FixtureOptions o;
    ReadingBatch b = make_batch(o);
    EXPECT_EQ(store.write(b).size(), 1u);
    b.runs[0].first_value = static_cast<std::uint32_t>(b.values.size());  // points past values
    EXPECT_THROW(store.write(b), std::invalid_argument);
  }
  std::filesystem::current_path(cwd);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "data" / "readings" / "month=2005-03"));
}

TEST_F(StoreTest, RunCrossingAMonthIsSplitAcrossPartitions) {
  ReadingBatch b;
  std::vector<double> v(48);
  std::iota(v.begin(), v.end(), 0.5);
  // 2005-03-31T22:00+10:00, 5-minute intervals: the last 24 fall in April (NEM time).
  add_run(b, "NMI1", "E1", 1109599200 + 30 * 86400 + 22 * 3600, 5, v);
  Model model;
  model.add(b);
  Store store(dir_);
  const auto parts = store.write(b);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].partition, "month=2005-03");
  EXPECT_EQ(parts[0].rows, 24u);
  EXPECT_EQ(parts[1].partition, "month=2005-04");
  EXPECT_EQ(query_csv(store), model.csv());
}

TEST_F(StoreTest, CompactionRemovesVersionsWithinASinglePart) {
  ReadingBatch b;
  add_run(b, "NMI1", "E1", 1109599200, 30, {1, 2, 3}).update_datetime = 100;
  add_run(b, "NMI1", "E1", 1109599200 + 1800, 30, {9}).update_datetime = 200;  // newer 2nd
  Model model;
  model.add(b);
  {
    Store store(dir_);
    ASSERT_EQ(store.write(b).size(), 1u);
    EXPECT_EQ(store.parts()[0].rows, 4u);  // both versions kept (lineage)
  }
  Store store(dir_);  // the flag survives a restart (manifest)
  EXPECT_EQ(store.compact(), 1u);
  ASSERT_EQ(store.parts().size(), 1u);
  EXPECT_EQ(store.parts()[0].rows, 3u);
  EXPECT_EQ(query_csv(store), model.csv());
  EXPECT_EQ(store.compact(), 0u);
}

TEST_F(StoreTest, SecondWriterIsRefused) {
  Store store(dir_);
  EXPECT_THROW(Store second(dir_), std::system_error);
  StoreOptions ro;
  ro.read_only = true;
  EXPECT_NO_THROW(Store reader(dir_, ro));
}

}  // namespace
}  // namespace meterd::storage::test
