// The record tables (register reads, B2B events): a part reads back what was written and
// refuses a damaged file; the winner of a key is decided by content, so any order of arrival,
// any split into writes and any compaction give the same answer; a crash at any step of a
// part's lifecycle leaves a table with either the whole write or none of it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "protocol/reading_format.hpp"
#include "storage/part_reader.hpp"
#include "storage/record_tables.hpp"
#include "storage/store.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage {
namespace {

constexpr epoch_seconds kDay = 86400;
constexpr epoch_seconds kMarch2024 = 1709215200;  // 2024-03-01 00:00 NEM time

RegisterReadPeriod register_read(int nmi, int day, epoch_seconds updated, std::string read) {
  RegisterReadPeriod r;
  r.nmi = "NMI" + std::to_string(1000 + nmi);
  r.nmi_configuration = "E1B1";
  r.register_id = "01";
  r.suffix = "E1";
  r.meter_serial = "M" + std::to_string(nmi);
  r.direction = 'E';
  r.previous_read = "000100";
  r.current_read = std::move(read);
  r.previous_read_datetime = kMarch2024 + (day - 1) * kDay;
  r.current_read_datetime = kMarch2024 + day * kDay;
  r.current_quality_method = "A";
  r.current_reason_code = day % 3 == 0 ? std::int16_t{51} : kNoReasonCode;
  r.quantity = 1.5 * day;
  r.uom = "kWh";
  r.update_datetime = updated;
  r.file_created = updated + 60;
  r.current_trans_code = "N";
  r.line = static_cast<std::uint32_t>(day + 2);
  return r;
}

B2BEvent b2b_event(int nmi, int day, std::string index_read) {
  B2BEvent e;
  e.nmi = "NMI" + std::to_string(1000 + nmi);
  e.suffix = "E1";
  e.interval_date = kMarch2024 + day * kDay;
  e.trans_code = 'S';
  e.ret_service_order = "SO" + std::to_string(day);
  e.read_datetime = e.interval_date + 3600;
  e.index_read = std::move(index_read);
  e.file_created = kMarch2024;
  e.line = static_cast<std::uint32_t>(day);
  return e;
}

std::string answer(const Store& store) {
  std::string out;
  store.query_register_reads({}, [&](const std::vector<RegisterReadPeriod>& reads) {
    for (const auto& r : reads) append_register_read(out, r, false);
  });
  store.query_b2b_events({}, [&](const std::vector<B2BEvent>& events) {
    for (const auto& e : events) append_b2b_event(out, e, false);
  });
  return out;
}

// Two versions of every register read (the second later, with another value) and of every
// B2B event (the same line read again with another index), over two months.
FileRecords records_of_two_versions() {
  FileRecords records;
  for (int nmi = 0; nmi < 3; ++nmi)
    for (int day = 1; day < 40; day += 3) {
      records.register_reads.push_back(register_read(nmi, day, kMarch2024, "000200"));
      records.register_reads.push_back(register_read(nmi, day, kMarch2024 + 7200, "000250"));
      records.b2b_events.push_back(b2b_event(nmi, day, "1000"));
      records.b2b_events.push_back(b2b_event(nmi, day, "1100"));
    }
  return records;
}

struct RecordTables : ::testing::Test {
  std::filesystem::path dir = test::make_temp_dir("meterd-records");
  ~RecordTables() override { std::filesystem::remove_all(dir); }
};

TEST(RecordPart, ReadsBackWhatWasWrittenNullsIncluded) {
  const auto dir = test::make_temp_dir("meterd-record-part");
  const RecordTableSpec& spec = spec_of(RecordTable::register_reads);
  std::vector<RecordRow> rows;
  for (int day = 1; day < 5; ++day) {
    auto read = register_read(day, day, kMarch2024, "00" + std::to_string(day));
    if (day == 2) read.current_read_datetime = kNoTime;  // optional column: null
    rows.push_back(to_row(read, 7));
  }
  keep_winners(spec, rows);
  const auto path = dir / "part.parquet";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  const auto summary = write_record_part(fd, spec.columns, spec.sort_key, rows);
  ::close(fd);
  EXPECT_EQ(summary.rows, rows.size());
  EXPECT_EQ(summary.bytes, std::filesystem::file_size(path));
  const auto back = read_record_part(path, spec.columns, summary.bytes, summary.footer_crc32c);
  ASSERT_EQ(back.size(), rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto a = register_read_of(rows[r]), b = register_read_of(back[r]);
    std::string sa, sb;
    append_register_read(sa, a, true);
    append_register_read(sb, b, true);
    EXPECT_EQ(sa, sb);
    EXPECT_EQ(back[r].back().i, 7);  // file_sequence
  }
  // A flipped byte in the data or a cut file is refused, never read as other values.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (std::size_t at : {std::size_t{40}, bytes.size() / 2}) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << damaged;
    EXPECT_THROW(read_record_part(path, spec.columns), CorruptPart) << "byte " << at;
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 9);
  EXPECT_THROW(read_record_part(path, spec.columns), CorruptPart);
  std::filesystem::remove_all(dir);
}

TEST(RecordWinners, TheLaterVersionWinsInAnyOrder) {
  const RecordTableSpec& spec = spec_of(RecordTable::register_reads);
  const auto records = records_of_two_versions();
  std::vector<RecordRow> rows;
  for (const auto& r : records.register_reads) rows.push_back(to_row(r, rows.size() + 1));
  auto expected = rows;
  keep_winners(spec, expected);
  ASSERT_EQ(expected.size(), records.register_reads.size() / 2);
  for (const auto& row : expected) EXPECT_EQ(register_read_of(row).current_read, "000250");
  std::mt19937 random(11);
  for (int round = 0; round < 20; ++round) {
    auto shuffled = rows;
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    keep_winners(spec, shuffled);
    ASSERT_EQ(shuffled.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
      for (std::size_t c = 0; c < expected[i].size(); ++c) {
        EXPECT_EQ(shuffled[i][c].i, expected[i][c].i);
        EXPECT_EQ(shuffled[i][c].s, expected[i][c].s);
      }
  }
}

TEST_F(RecordTables, AnyOrderAnySplitAndCompactionGiveOneAnswer) {
  const auto records = records_of_two_versions();
  std::string reference;
  {
    Store store(dir / "one");
    store.write_records(records);
    reference = answer(store);
  }
  // Each version is kept once, the newest: half the register reads, half the events.
  EXPECT_EQ(std::count(reference.begin(), reference.end(), '\n'),
            static_cast<long>(records.register_reads.size() / 2 + records.b2b_events.size() / 2));
  EXPECT_EQ(reference.find("000200"), std::string::npos);
  EXPECT_NE(reference.find("000250"), std::string::npos);

  // Reversed, one record per write, then written again (a replay): the same answer, before
  // and after compaction and after a reopen.
  Store store(dir / "many");
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = records.register_reads.size(); i-- > 0;) {
      FileRecords one;
      one.register_reads.push_back(records.register_reads[i]);
      if (i < records.b2b_events.size()) one.b2b_events.push_back(records.b2b_events[i]);
      one.file_sequence = i + 1;
      store.write_records(one);
    }
  }
  EXPECT_GT(store.record_parts().size(), 4u);
  EXPECT_EQ(answer(store), reference);
  EXPECT_GT(store.compact(), 0u);
  EXPECT_EQ(store.record_parts().size(), 4u);  // two tables, two months each
  EXPECT_EQ(answer(store), reference);
  std::string filtered;
  QueryFilter only;
  only.nmi = "NMI1001";
  store.query_register_reads(only, [&](const std::vector<RegisterReadPeriod>& reads) {
    for (const auto& r : reads) {
      EXPECT_EQ(r.nmi, "NMI1001");
      append_register_read(filtered, r, false);
    }
  });
  EXPECT_FALSE(filtered.empty());
}

TEST_F(RecordTables, SurvivesAReopenAndDropsAnOrphan) {
  const auto records = records_of_two_versions();
  std::string before;
  {
    Store store(dir);
    store.write_records(records);
    before = answer(store);
  }
  const auto orphan = dir / "register_reads" / "month=2024-03" / "part-999999999999.parquet";
  std::filesystem::copy_file(Store(dir).record_parts().front().path, orphan);
  Store store(dir);
  EXPECT_FALSE(std::filesystem::exists(orphan));
  EXPECT_EQ(answer(store), before);
}

TEST_F(RecordTables, ACrashAtAnyStepLeavesEachTableAllOrNothing) {
  const auto records = records_of_two_versions();
  std::string full, reads_only;
  {
    Store reference(dir / "reference");
    FileRecords reads = records;
    reads.b2b_events.clear();
    reference.write_records(reads);
    reads_only = answer(reference);
    reference.write_records(records);
    full = answer(reference);
  }
  for (LifecycleStep crash_at :
       {LifecycleStep::kTempWritten, LifecycleStep::kTempSynced, LifecycleStep::kRenamed,
        LifecycleStep::kDirSynced, LifecycleStep::kRecorded}) {
    const auto data = dir / to_string(crash_at);
    StoreOptions options;
    options.fault_hook = [&](LifecycleStep step, const std::filesystem::path&) {
      if (step == crash_at) throw std::runtime_error("injected crash");
    };
    {
      Store store(data, options);
      EXPECT_THROW(store.write_records(records), std::runtime_error) << to_string(crash_at);
    }
    Store reopened(data);
    const std::string after = answer(reopened);
    // Each table's manifest record is its commit point: a table has the whole write or none
    // of it (register reads are written first; a crash once they are recorded leaves the
    // events to the re-read).
    if (crash_at == LifecycleStep::kRecorded)
      EXPECT_EQ(after, reads_only);
    else
      EXPECT_EQ(after, "") << to_string(crash_at);
    reopened.write_records(records);  // the file read again at the next start
    EXPECT_EQ(answer(reopened), full) << to_string(crash_at);
  }
}

}  // namespace
}  // namespace meterd::storage
