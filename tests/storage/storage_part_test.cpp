// Part writer -> part reader round trip: every reading field, several row groups and pages,
// the PLAIN fallback for values, all-null optional columns, statistics, corrupt input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "storage/merge.hpp"
#include "storage/part_reader.hpp"
#include "storage/part_writer.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

void sort_runs(ReadingBatch& b) {
  std::sort(b.runs.begin(), b.runs.end(), [&](const ReadingRun& x, const ReadingRun& y) {
    return std::make_tuple(b.strings[x.nmi], b.strings[x.suffix], x.first_start) <
           std::make_tuple(b.strings[y.nmi], b.strings[y.suffix], y.first_start);
  });
}

PartSummary write_part(const std::filesystem::path& path, const ReadingBatch& b,
                       PartWriterOptions o = {}, std::int64_t ingest = 1700000000123456) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EXPECT_GE(fd, 0);
  PartWriter w(fd, o);
  w.add(b, ingest);
  const PartSummary s = w.finish();
  ::close(fd);
  return s;
}

// Reads a whole part back through the merge (which keeps every row of a duplicate-free part).
std::string read_back_csv(const std::filesystem::path& path,
                          std::vector<std::int64_t>* ingest = nullptr) {
  PartReader reader(path);
  std::string out;
  merge_parts({&reader}, QueryFilter{},
              [&](const ReadingBatch& b, std::span<const std::int64_t> in) {
                out += to_csv(b);
                if (ingest) ingest->insert(ingest->end(), in.begin(), in.end());
              });
  return out;
}

class PartTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = meterd::test::make_temp_dir("meterd-part"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(PartTest, EveryFieldRoundTrips) {
  FixtureOptions o;
  o.nmis = 4, o.days = 5;
  ReadingBatch b = make_batch(o);
  sort_runs(b);
  const auto path = dir_ / "p.parquet";
  const PartSummary s = write_part(path, b);
  EXPECT_EQ(s.rows, b.readings());
  std::vector<std::int64_t> ingest;
  EXPECT_EQ(read_back_csv(path, &ingest), to_csv(b));
  ASSERT_FALSE(ingest.empty());
  for (auto t : ingest) EXPECT_EQ(t, 1700000000123456);
  PartReader r(path);
  EXPECT_EQ(r.rows(), b.readings());
  // CSV does not show file_sequence: check it (and the rest) column by column too.
  DecodedRowGroup d;
  r.read(0, d);
  std::size_t row = 0;
  b.for_each([&](const ReadingRow& x) {
    EXPECT_EQ(d.num[kFileSequence][row], static_cast<std::int64_t>(x.file_sequence));
    EXPECT_EQ(d.num[kIntervalStart][row], x.interval_start);
    EXPECT_EQ(d.value[row], x.value);
    ++row;
  });
}

TEST_F(PartTest, ManyRowGroupsPagesAndPlainValueFallback) {
  ReadingBatch b;
  // 80k distinct values in one 5-minute stream: more than the value dictionary holds.
  std::vector<double> values(80000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i) * 0.001 - 3;
  values[5] = -0.0;
  auto& run = add_run(b, "NMI1", "E1", 1109599200, 5, values);
  run.method = 52;
  run.quality = 'F';
  add_run(b, "NMI2", "E1", 1109599200, 30, {1.5, 2.5});
  PartWriterOptions o;
  o.row_group_rows = 30000, o.page_rows = 7000;
  const auto path = dir_ / "p.parquet";
  const PartSummary s = write_part(path, b, o);
  EXPECT_EQ(s.row_groups, 3u);
  EXPECT_EQ(read_back_csv(path), to_csv(b));
  PartReader r(path);
  ASSERT_EQ(r.row_groups().size(), 3u);
  EXPECT_EQ(r.row_groups()[0].min_string(kNmi), "NMI1");
  EXPECT_EQ(r.row_groups()[2].max_string(kNmi), "NMI2");
  EXPECT_EQ(r.row_groups()[0].min_start(), 1109599200);
}

TEST_F(PartTest, RowGroupStatisticsPruneReads) {
  FixtureOptions o;
  o.nmis = 10, o.days = 20;
  ReadingBatch b = make_batch(o);
  sort_runs(b);
  PartWriterOptions po;
  po.row_group_rows = 1000;  // 1,920 rows per NMI: each NMI spans 2-3 row groups
  const auto path = dir_ / "p.parquet";
  write_part(path, b, po);
  PartReader reader(path);
  ASSERT_GT(reader.row_groups().size(), 15u);
  Model model;
  model.add(b);
  QueryFilter f;
  f.nmi = "NMI0001004";
  f.from = 1109599200 + 5 * 86400;
  f.to = 1109599200 + 7 * 86400;
  std::string got;
  const MergeStats stats =
      merge_parts({&reader}, f, [&](const ReadingBatch& out, auto) { got += to_csv(out); });
  EXPECT_EQ(got, model.csv(f));
  EXPECT_EQ(stats.rows_out, 2u * 2 * 48);
  EXPECT_LE(stats.row_groups_read, 3u);  // only the groups whose nmi/time stats match
  EXPECT_EQ(stats.row_groups_read + stats.row_groups_skipped, reader.row_groups().size());
}

TEST_F(PartTest, AllNullOptionalColumnsAndEmptyStrings) {
  ReadingBatch b;
  auto& run = add_run(b, "NMI1", "", 1109599200, 15, {0, 1, 2, 3});
  run.register_id = run.meter_serial = run.uom = 0;  // ""
  const auto path = dir_ / "p.parquet";
  write_part(path, b);
  EXPECT_EQ(read_back_csv(path), to_csv(b));
}

TEST_F(PartTest, CorruptBytesAreDetected) {
  FixtureOptions o;
  ReadingBatch b = make_batch(o);
  sort_runs(b);
  const auto path = dir_ / "p.parquet";
  const PartSummary s = write_part(path, b);
  std::string bytes = meterd::test::read_file(path);
  // Flip one byte in every region: page data, page headers, footer, magic.
  int detected = 0, tried = 0;
  for (std::size_t pos = 0; pos < bytes.size(); pos += 97) {
    std::string bad = bytes;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x5a);
    const auto p2 = dir_ / "bad.parquet";
    std::ofstream(p2, std::ios::binary) << bad;
    ++tried;
    try {
      PartExpectation expect{s.bytes, s.footer_crc32c};
      PartReader r(p2, &expect);
      for (std::size_t g = 0; g < r.row_groups().size(); ++g) {
        DecodedRowGroup d;
        r.read(g, d);
        PagedRowGroup pages;  // and page by page, through the OffsetIndex
        if (!r.open_pages(g, pages)) continue;
        for (std::size_t p = 0; p < pages.pages(); ++p) r.read_page(pages, p, kAllColumns, d);
      }
    } catch (const CorruptPart&) {
      ++detected;
    }
  }
  EXPECT_EQ(detected, tried);
  // Truncated at any point (a half-written file): rejected at open, never decoded.
  for (std::size_t len = 0; len < bytes.size(); len += 131) {
    const auto p3 = dir_ / "short.parquet";
    std::ofstream(p3, std::ios::binary | std::ios::trunc) << bytes.substr(0, len);
    EXPECT_THROW(PartReader r(p3), CorruptPart) << len;
  }
}

}  // namespace
}  // namespace meterd::storage::test
