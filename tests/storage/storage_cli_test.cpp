// `meterd query` and `meterd compact` end to end on a data directory written by Store.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "protocol/reading_format.hpp"
#include "storage/store.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

std::string run(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  std::array<char, 65536> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  *status = ::pclose(p);
  return out;
}

TEST(StorageCli, QueryPrintsParseCsvOfNewestVersionsAndCompactKeepsIt) {
  // storage_tests link the storage library only; the binary is built by the `meterd` target.
  if (!std::filesystem::exists(meterd::test::meterd_binary())) {
    if (meterd::test::running_in_ci()) FAIL() << "meterd binary not built";
    GTEST_SKIP() << "meterd binary not built: build the meterd target first";
  }
  const auto dir = meterd::test::make_temp_dir("meterd-cli");
  Model model;
  {
    Store store(dir);
    for (int f = 0; f < 2; ++f) {
      FixtureOptions o;
      o.seed = 5 + f, o.file_sequence = 1 + f, o.update_datetime = 1110000000 + f;
      const ReadingBatch b = make_batch(o);
      model.add(b);
      store.write(b);
    }
  }
  const std::string bin = meterd::test::meterd_binary().string();
  std::string header;
  append_csv_header(header);
  int status = 0;
  const std::string all = run(bin + " query --data-dir " + dir.string(), &status);
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(all == header + model.csv()) << all.size() << " bytes";

  QueryFilter f;
  f.nmi = "NMI0001001", f.suffix = "E1", f.from = 1109599200 + 86400, f.to = 1109599200 + 2 * 86400;
  const std::string some =
      run(bin + " query --data-dir " + dir.string() +
              " --nmi NMI0001001 --suffix E1 --from 2005-03-02 --to 2005-03-03T00:00:00+10:00",
          &status);
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(some == header + model.csv(f)) << some.substr(0, 500);
  EXPECT_NE(model.csv(f), "");

  run(bin + " compact --data-dir " + dir.string() + " 2>&1", &status);
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(run(bin + " query --data-dir " + dir.string(), &status) == all);

  const std::string json = run(bin + " query --format json --data-dir " + dir.string(), &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(static_cast<std::size_t>(std::count(json.begin(), json.end(), '\n')), model.size());

  const auto pq = dir / "out.parquet";
  run(bin + " query --format parquet --output " + pq.string() + " --data-dir " + dir.string(),
      &status);
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(std::filesystem::file_size(pq) > 100);

  run(bin + " query --data-dir " + dir.string() + " --from nonsense 2>/dev/null", &status);
  EXPECT_NE(status, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meterd::storage::test
