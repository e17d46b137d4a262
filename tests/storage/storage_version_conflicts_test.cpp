// find_version_conflicts and Store::conflicts_with_stored: two files that claim an interval with
// one version and say different things of it are reported with both sides, the kept side being the
// row the sort put last (the one a query returns); a correction within one file, a newer version,
// or the same reading sent twice is no conflict. conflict_warning names both files and lines.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "storage/part_reader.hpp"
#include "storage/part_sources.hpp"
#include "storage/partition.hpp"
#include "storage/partition_sort.hpp"
#include "storage/store.hpp"
#include "storage/version_conflicts.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

constexpr epoch_seconds kMarch2005 = 1109599200;  // 2005-03-01T00:00+10:00
constexpr MonthKey kMarch = 2005 * 12 + 2;
constexpr epoch_seconds kUpdated = 1110000000, kCreated = 1109900000;

ReadingRun& claim(ReadingBatch& b, std::uint64_t file_sequence, std::uint32_t line,
                  const std::vector<double>& values, epoch_seconds updated = kUpdated) {
  ReadingRun& run = add_run(b, "NMI1", "E1", kMarch2005, 30, values);
  run.quality = 'A';
  run.file_sequence = file_sequence;
  run.line = line;
  run.update_datetime = updated;
  run.file_created = kCreated;
  return run;
}

TEST(VersionConflictsTest, TwoFilesWithOneVersionAndOtherValuesAreOneConflictPerRunOfIntervals) {
  ReadingBatch b;
  claim(b, 7, 3, {1.111, 1.111, 1.111, 5.0});
  claim(b, 9, 9, {3.333, 3.333, 3.333, 5.0});  // the last interval agrees
  const auto partition = sort_partition(kMarch, std::move(b));
  ASSERT_TRUE(partition.may_have_duplicates);
  const auto conflicts = find_version_conflicts(partition);
  ASSERT_EQ(conflicts.size(), 1u);
  const VersionConflict& c = conflicts[0];
  EXPECT_EQ(c.nmi, "NMI1");
  EXPECT_EQ(c.suffix, "E1");
  EXPECT_EQ(c.first_start, kMarch2005);
  EXPECT_EQ(c.intervals, 3u);
  EXPECT_EQ(c.update_datetime, kUpdated);
  // The later line wins whichever file it is in (content, not arrival).
  EXPECT_EQ(c.kept.file_sequence, 9u);
  EXPECT_EQ(c.kept.line, 9u);
  EXPECT_EQ(c.kept.value, 3.333);
  EXPECT_EQ(c.superseded.file_sequence, 7u);
  EXPECT_EQ(c.superseded.line, 3u);
  EXPECT_EQ(c.superseded.value, 1.111);

  const Issue second = conflict_warning(c, 9, "b.csv", true);
  EXPECT_EQ(second.severity, Severity::warning);
  EXPECT_EQ(second.line, 9u);
  EXPECT_EQ(second.record, "300");
  EXPECT_EQ(second.interval_date, "20050301");
  EXPECT_NE(second.reason.find("b.csv line 3"), std::string::npos) << second.reason;
  EXPECT_NE(second.reason.find("3.333 (A) here, 1.111 (A) there"), std::string::npos)
      << second.reason;
  EXPECT_NE(second.reason.find("kept: this file's"), std::string::npos) << second.reason;
  const Issue first = conflict_warning(c, 7, "a.csv", false);
  EXPECT_EQ(first.line, 3u);
  EXPECT_EQ(first.field, "value");
  EXPECT_NE(first.reason.find("kept: the other's"), std::string::npos) << first.reason;
}

TEST(VersionConflictsTest, TheKeptSideDoesNotDependOnTheOrderTheFilesCameIn) {
  for (bool swapped : {false, true}) {
    ReadingBatch b;
    // One line in both: the greater value is the content tie-break.
    if (swapped) claim(b, 2, 5, {4.0});
    claim(b, 1, 5, {2.0});
    if (!swapped) claim(b, 2, 5, {4.0});
    const auto conflicts = find_version_conflicts(sort_partition(kMarch, std::move(b)));
    ASSERT_EQ(conflicts.size(), 1u) << swapped;
    EXPECT_EQ(conflicts[0].kept.value, 4.0);
    EXPECT_EQ(conflicts[0].kept.file_sequence, 2u);
  }
}

TEST(VersionConflictsTest, CorrectionsNewerVersionsAndRepeatsAreNoConflict) {
  ReadingBatch b;
  claim(b, 1, 3, {1.0, 2.0});
  claim(b, 1, 9, {7.0, 8.0});                 // a later line of the same file: a correction
  claim(b, 2, 4, {5.0, 6.0}, kUpdated + 60);  // a newer version from another file
  claim(b, 3, 4, {5.0, 6.0}, kUpdated + 60);  // the same readings from a third
  const auto partition = sort_partition(kMarch, std::move(b));
  ASSERT_TRUE(partition.may_have_duplicates);
  EXPECT_TRUE(find_version_conflicts(partition).empty());
}

TEST(VersionConflictsTest, TheListIsCappedAndAPartitionWithoutOverlapsIsNotScanned) {
  ReadingBatch b;
  for (std::uint32_t f = 1; f <= 5; ++f) claim(b, f, 2, {static_cast<double>(f)});
  const auto partition = sort_partition(kMarch, std::move(b));
  EXPECT_EQ(find_version_conflicts(partition).size(), 4u);  // each earlier file against the kept
  EXPECT_EQ(find_version_conflicts(partition, 2).size(), 2u);

  ReadingBatch plain;
  claim(plain, 1, 2, {1.0, 2.0});
  EXPECT_TRUE(find_version_conflicts(sort_partition(kMarch, std::move(plain))).empty());
}

// Against what is stored: the batch's winner of each key against each other source's last
// stored reading of it; row groups the statistics rule out (another file DateTime, the batch's
// own source) are not read at all.
TEST(VersionConflictsTest, ABatchAgainstStoredReadingsOfTheSameVersion) {
  const auto dir = meterd::test::make_temp_dir("meterd-conflicts");
  {
    Store store(dir);
    ReadingBatch first;
    claim(first, 1, 3, {1.0, 1.0, 1.0, 9.0});
    claim(first, 1, 9, {2.0, 2.0, 2.0, 9.0});  // file 1 corrects itself
    store.write(sort_partition(kMarch, std::move(first)));
    store.ledger_record("aa", "first.csv", 1);

    ReadingBatch second;
    claim(second, 2, 3, {5.0, 5.0, 5.0, 9.0});
    const auto found = store.conflicts_with_stored(sort_partition(kMarch, std::move(second)));
    EXPECT_TRUE(found.complete);
    EXPECT_EQ(found.row_groups_read, 1u);
    ASSERT_EQ(found.conflicts.size(), 1u);
    const VersionConflict& c = found.conflicts[0];
    EXPECT_EQ(c.intervals, 3u);           // the fourth interval agrees
    EXPECT_EQ(c.kept.file_sequence, 1u);  // line 9 beats line 3 whoever came first
    EXPECT_EQ(c.kept.line, 9u);
    EXPECT_EQ(c.kept.value, 2.0);
    EXPECT_EQ(c.kept.source, "first.csv");
    EXPECT_EQ(c.superseded.file_sequence, 2u);
    EXPECT_EQ(c.superseded.value, 5.0);
    EXPECT_TRUE(c.superseded.source.empty());

    ReadingBatch own;  // a later seal of file 1: its own readings, not read back
    claim(own, 1, 12, {7.0});
    const auto same_source = store.conflicts_with_stored(sort_partition(kMarch, std::move(own)));
    EXPECT_TRUE(same_source.conflicts.empty());
    EXPECT_EQ(same_source.row_groups_read, 0u);

    ReadingBatch newer;  // another file DateTime: ruled out by the statistics
    claim(newer, 3, 3, {8.0}).file_created = kCreated + 86400;
    const auto other_time = store.conflicts_with_stored(sort_partition(kMarch, std::move(newer)));
    EXPECT_TRUE(other_time.conflicts.empty());
    EXPECT_EQ(other_time.row_groups_read, 0u);

    ReadingBatch budget;
    claim(budget, 4, 3, {6.0});
    const auto cut =
        store.conflicts_with_stored(sort_partition(kMarch, std::move(budget)), 1000, 1);
    EXPECT_FALSE(cut.complete);
    EXPECT_TRUE(cut.conflicts.empty());
  }
  {  // Reopened: which sources a part holds is read from the part itself, once.
    Store store(dir);
    ReadingBatch second;
    claim(second, 2, 3, {5.0, 5.0, 5.0, 9.0});
    const PartitionBatch partition = sort_partition(kMarch, std::move(second));
    const auto found = store.conflicts_with_stored(partition);
    ASSERT_EQ(found.conflicts.size(), 1u);
    EXPECT_EQ(found.conflicts[0].intervals, 3u);
    EXPECT_EQ(found.conflicts[0].kept.source, "first.csv");
    ReadingBatch own;
    claim(own, 1, 12, {7.0});
    EXPECT_EQ(store.conflicts_with_stored(sort_partition(kMarch, std::move(own))).row_groups_read,
              0u);
  }
  std::filesystem::remove_all(dir);
}

// Files read together share parts, so statistics span all of them; which streams each source
// holds rules a part out when no other source holds the batch's streams.
TEST(VersionConflictsTest, APartIsNotReadWhenNoOtherSourceHoldsTheBatchsStreams) {
  const auto dir = meterd::test::make_temp_dir("meterd-conflicts-streams");
  {
    Store store(dir);
    ReadingBatch together;
    for (auto [nmi, sequence] : {std::pair{"NMI1", 1}, std::pair{"NMI3", 2}}) {
      ReadingRun& run = add_run(together, nmi, "E1", kMarch2005, 30, {1.0});
      run.file_sequence = static_cast<std::uint64_t>(sequence);
      run.update_datetime = kUpdated;
      run.file_created = kCreated;
    }
    store.write(sort_partition(kMarch, std::move(together)));
    ReadingBatch between;  // NMI2 lies inside the part's nmi range, with its times
    ReadingRun& run = add_run(between, "NMI2", "E1", kMarch2005, 30, {2.0});
    run.file_sequence = 3;
    run.update_datetime = kUpdated;
    run.file_created = kCreated;
    const auto found = store.conflicts_with_stored(sort_partition(kMarch, std::move(between)));
    EXPECT_TRUE(found.conflicts.empty());
    EXPECT_EQ(found.row_groups_read, 0u);
    ReadingBatch contradicting;  // NMI3 from another file: read, and found
    ReadingRun& other = add_run(contradicting, "NMI3", "E1", kMarch2005, 30, {2.0});
    other.file_sequence = 4;
    other.update_datetime = kUpdated;
    other.file_created = kCreated;
    const auto met = store.conflicts_with_stored(sort_partition(kMarch, std::move(contradicting)));
    EXPECT_EQ(met.row_groups_read, 1u);
    EXPECT_EQ(met.conflicts.size(), 1u);
  }
  std::filesystem::remove_all(dir);
}

// Every part's footer says which files it holds, stream by stream, so that a restarted store
// need not read its parts to know.
TEST(VersionConflictsTest, APartsFooterListsItsFilesStreamByStream) {
  SourcePairs pairs{{1, 2}, {3, 0xffffffffffffffffULL}}, back;
  ASSERT_TRUE(decode_source_pairs(encode_source_pairs(pairs), back));
  EXPECT_EQ(back, pairs);
  EXPECT_FALSE(decode_source_pairs("0123", back));
  EXPECT_FALSE(decode_source_pairs(std::string(32, 'g'), back));

  const auto dir = meterd::test::make_temp_dir("meterd-part-sources");
  {
    Store store(dir);
    ReadingBatch b;
    claim(b, 1, 3, {1.0});
    claim(b, 1, 9, {2.0});  // the same file and stream: one pair
    claim(b, 2, 4, {3.0});
    add_run(b, "NMI2", "E1", kMarch2005, 30, {4.0}).file_sequence = 2;
    store.write(sort_partition(kMarch, std::move(b)));
    ASSERT_EQ(store.parts().size(), 1u);
    const PartReader reader(store.parts()[0].path);
    ASSERT_TRUE(reader.sources());
    const SourcePairs want{{stream_source_hash("NMI1", "E1", kCreated), 1},
                           {stream_source_hash("NMI1", "E1", kCreated), 2},
                           {stream_source_hash("NMI2", "E1", kNoTime), 2}};
    SourcePairs sorted = want;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(*reader.sources(), sorted);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meterd::storage::test
