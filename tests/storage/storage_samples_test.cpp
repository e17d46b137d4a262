// Real NEM12 samples (../shared) through the reader into a Store and back out: every reading
// field survives, and all files together give the newest version per key.
#include <gtest/gtest.h>

#include "protocol/nem12_reader.hpp"
#include "storage/store.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

struct CollectingSink : ReadingSink {
  std::vector<ReadingBatch> batches;
  void on_readings(ReadingBatch& batch) override { batches.push_back(batch); }
};

std::vector<ReadingBatch> parse(const std::string& bytes, std::uint64_t sequence) {
  CollectingSink sink;
  ReaderOptions options;
  options.file_sequence = sequence;
  options.batch_readings = 5000;  // several batches per file
  Nem12Reader reader(options, sink);
  reader.feed(bytes);
  reader.finish();
  return std::move(sink.batches);
}

TEST(StorageSamples, EveryReadingFieldRoundTripsThroughTheStore) {
  METERD_REQUIRE_SHARED(shared);
  const auto dir = meterd::test::make_temp_dir("meterd-samples");
  Model all;
  std::uint64_t sequence = 0, files = 0, readings = 0;
  {
    Store together(dir / "all");
    for (const auto& entry : std::filesystem::directory_iterator(meterd::test::samples_dir())) {
      const std::string bytes = meterd::test::read_file(entry.path());
      if (!bytes.starts_with("100,") && !bytes.starts_with("200,")) continue;  // archives etc.
      const auto batches = parse(bytes, ++sequence);
      if (batches.empty()) continue;
      ++files;
      SCOPED_TRACE(entry.path().filename().string());
      Model one;
      Store store(dir / std::to_string(sequence));
      for (const auto& b : batches) {
        one.add(b), all.add(b);
        store.write(b);
        together.write(b);
        readings += b.readings();
      }
      EXPECT_TRUE(query_csv(store) == one.csv()) << query_csv(store).substr(0, 400) << "\n---\n"
                                                 << one.csv().substr(0, 400);
    }
    EXPECT_TRUE(query_csv(together) == all.csv());
    together.compact();
    EXPECT_TRUE(query_csv(together) == all.csv());
  }
  EXPECT_GT(files, 5u);
  EXPECT_GT(readings, 1000u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meterd::storage::test
