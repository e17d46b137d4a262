// A merge in bounded memory: row groups read page by page (the OffsetIndex), and beyond the
// fan-in, groups of parts merged into spill parts first. Both must return exactly what one
// merge of whole row groups returns, and what the model of the newest versions says.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>

#include "storage/merge.hpp"
#include "storage/part_reader.hpp"
#include "storage/part_writer.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

class PagedMergeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = meterd::test::make_temp_dir("meterd-paged-merge"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A part of the batch's readings, sorted as the store writes them.
  std::unique_ptr<PartReader> write(const ReadingBatch& batch, PartWriterOptions o = {}) {
    ReadingBatch sorted = batch;
    std::sort(
        sorted.runs.begin(), sorted.runs.end(), [&](const ReadingRun& x, const ReadingRun& y) {
          return std::make_tuple(sorted.strings[x.nmi], sorted.strings[x.suffix], x.first_start) <
                 std::make_tuple(sorted.strings[y.nmi], sorted.strings[y.suffix], y.first_start);
        });
    const auto path = dir_ / ("p" + std::to_string(parts_++) + ".parquet");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_GE(fd, 0);
    {
      PartWriter w(fd, o);
      w.add(sorted, 1700000000123456 + parts_);
      w.finish();
    }
    ::close(fd);
    return std::make_unique<PartReader>(path);
  }

  std::string merge(const std::vector<const PartReader*>& parts, const QueryFilter& f,
                    std::size_t fan_in, MergeStats* stats = nullptr) {
    MergeOptions o;
    o.max_fan_in = fan_in;
    o.spill_dir = dir_;
    std::string out;
    const MergeStats s = merge_parts(
        parts, f, [&](const ReadingBatch& b, auto) { out += to_csv(b); }, o);
    if (stats) *stats = s;
    return out;
  }

  std::filesystem::path dir_;
  int parts_ = 0;
};

TEST_F(PagedMergeTest, PagesReadOneByOneHoldTheRowsOfTheWholeRowGroup) {
  FixtureOptions fo;
  fo.nmis = 12, fo.days = 9, fo.interval_minutes = 5;  // 62,208 rows
  PartWriterOptions o;
  o.row_group_rows = 30000, o.page_rows = 7000;  // pages that do not divide the row group
  const auto part = write(make_batch(fo), o);
  ASSERT_EQ(part->row_groups().size(), 3u);
  for (std::size_t g = 0; g < part->row_groups().size(); ++g) {
    DecodedRowGroup whole, page;
    part->read(g, whole);
    PagedRowGroup pages;
    ASSERT_TRUE(part->open_pages(g, pages));
    ASSERT_EQ(pages.pages(), (whole.rows + 6999) / 7000);
    for (std::size_t p = 0; p < pages.pages(); ++p) {
      part->read_page(pages, p, 1u << kNmi, page);  // a filter column first, then the rest
      EXPECT_EQ(page.columns, 1u << kNmi);
      part->read_page(pages, p, kAllColumns, page);
      ASSERT_EQ(page.rows, pages.page_rows(p));
      for (std::size_t r = 0; r < page.rows; ++r) {
        const std::size_t w = pages.first_row(p) + r;
        for (int c = 0; c < kColumnCount; ++c) {
          if (kColumns[c].kind == Kind::kString)
            ASSERT_EQ(page.str[c].dict[page.str[c].idx[r]], whole.str[c].dict[whole.str[c].idx[w]]);
          else if (kColumns[c].kind == Kind::kDouble)
            ASSERT_EQ(page.value[r], whole.value[w]);
          else
            ASSERT_EQ(page.num[c][r], whole.num[c][w]) << kColumns[c].name;
        }
        ASSERT_EQ(page.run_start[r] != 0, r == 0 || whole.run_start[w] != 0);
      }
    }
  }
}

TEST_F(PagedMergeTest, MorePartsThanTheFanInSpillAndGiveTheSameNewestVersions) {
  // 23 parts over the same keys: versions newer and older, NMIs and days that overlap.
  std::vector<std::unique_ptr<PartReader>> owned;
  std::vector<const PartReader*> parts;
  Model model;
  PartWriterOptions small;
  small.row_group_rows = 4000, small.page_rows = 900;
  for (int i = 0; i < 23; ++i) {
    FixtureOptions fo;
    fo.nmis = 3 + i % 4, fo.days = 2 + i % 3;
    fo.first_day += (i % 5) * 86400;
    fo.seed = static_cast<std::uint32_t>(i + 1);
    fo.update_datetime += (i * 7919) % 13 * 60;  // newer or older than the part before
    fo.file_sequence = static_cast<std::uint64_t>(i + 1);
    const ReadingBatch b = make_batch(fo);
    model.add(b);
    owned.push_back(write(b, small));
    parts.push_back(owned.back().get());
  }
  QueryFilter one_nmi;
  one_nmi.nmi = "NMI0001002";
  QueryFilter a_day;
  a_day.suffix = "B1";
  a_day.from = 1109599200 + 2 * 86400 + 3600, a_day.to = 1109599200 + 3 * 86400;
  for (const QueryFilter& f : {QueryFilter{}, one_nmi, a_day}) {
    MergeStats direct, spilled, twice;
    const std::string want = merge(parts, f, 100, &direct);
    EXPECT_EQ(want, model.csv(f));
    EXPECT_EQ(direct.spill_parts, 0u);
    EXPECT_EQ(merge(parts, f, 4, &spilled), want) << "4 parts at a time";
    EXPECT_GT(spilled.spill_parts, 0u);
    if (!f.nmi && !f.suffix) {
      EXPECT_EQ(spilled.spill_parts, 6u + 2u) << "23 parts: 6, then 2";
    }
    EXPECT_EQ(merge(parts, f, 2, &twice), want) << "2 at a time: several levels";
    EXPECT_GT(twice.spill_parts, spilled.spill_parts);
    EXPECT_EQ(twice.rows_in, direct.rows_in) << "rows of spill parts are not rows of the store";
  }
  // The spill parts are gone: nothing but the 23 parts is left in the directory.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 23u);
}

TEST_F(PagedMergeTest, AOneNmiQueryDecodesOnlyThePagesThatHoldIt) {
  FixtureOptions fo;
  fo.nmis = 40, fo.days = 10, fo.interval_minutes = 5;  // 230,400 rows, one row group
  const auto part = write(make_batch(fo));
  QueryFilter f;
  f.nmi = "NMI0001020";
  MergeStats stats;
  const std::string got = merge({part.get()}, f, 32, &stats);
  EXPECT_EQ(stats.rows_out, 2u * 10 * 288);
  Model model;
  model.add(make_batch(fo));
  EXPECT_EQ(got, model.csv(f));
  // 5,760 rows of one NMI span at most 5,760 / page + 2 pages: the others are not decoded.
  const std::size_t page = PartWriterOptions{}.page_rows;
  EXPECT_LE(stats.rows_in, (5760 / page + 2) * page) << "decoded rows";
}

}  // namespace
}  // namespace meterd::storage::test
