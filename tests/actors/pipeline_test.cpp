// The actors' own jobs, with fake stores: credit windows hold, a slow writer slows the readers,
// crashed children are restarted and their files complete, drain flushes everything, and the
// safety path holds failed batches until they land.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <fstream>
#include <thread>

#include "actors/config.hpp"
#include "actors/pipeline.hpp"
#include "app/list_intake.hpp"
#include "app/spool_intake.hpp"
#include "protocol/input_byte_source.hpp"
#include "protocol/input_content_hash.hpp"
#include "storage/journal.hpp"
#include "tests/actors/actor_fakes.hpp"
#include "tests/test_support.hpp"

namespace meterd::test {
namespace {

using actors::Config;
using actors::FileStatus;
using actors::Metrics;
using app::ListIntake;

// Small everything, so that a few small files exercise every window many times over.
Config small_config(const std::filesystem::path& dir) {
  Config c;
  c.data_dir = dir / "data";
  c.spool_dir = dir / "spool";
  c.files_in_flight = 3;
  c.read_chunk_bytes = 16 * 1024;
  c.reader_batch_readings = 512;
  c.reader_window = 2;
  c.batch_readings = 2048;
  c.batcher_max_readings = 4096;
  c.writer_window = 2;
  c.flush_interval_ms = 50;
  c.retry_initial_ms = 5;
  c.retry_max_ms = 40;
  c.restart_initial_ms = 5;
  c.metrics_interval_ms = 0;
  c.log_level = "error";
  return c;
}

struct Fixture : ::testing::Test {
  std::filesystem::path dir = make_temp_dir("meterd-actors");
  ~Fixture() override { std::filesystem::remove_all(dir); }
};

void expect_all_durable(const ListIntake& intake, std::size_t files) {
  auto outcomes = intake.outcomes();
  ASSERT_EQ(outcomes.size(), files);
  for (const auto& o : outcomes)
    EXPECT_EQ(o.status, FileStatus::durable) << o.file.name << ": " << o.error;
}

// Readings in dead_letter/ journal files, each of which must have its JSON report beside it.
std::uint64_t dead_lettered_readings(const Config& config) {
  std::uint64_t held = 0;
  for (const auto& f : storage::journal::list(config.dead_letter_dir())) {
    auto batch = storage::journal::load(f);
    EXPECT_TRUE(batch) << f;
    if (batch) held += batch->batch.batch.readings();
    auto report = f;
    EXPECT_TRUE(std::filesystem::exists(report.replace_extension(".json"))) << f;
  }
  return held;
}

TEST_F(Fixture, IngestsEveryReadingOfEveryFile) {
  auto gen = generate_files(dir / "in", 4, 10, 20);
  FakeStore store;
  ListIntake intake(gen.paths);
  Metrics metrics;
  auto result = actors::run_pipeline(small_config(dir), store, intake, metrics);
  EXPECT_TRUE(result.ok);
  expect_all_durable(intake, gen.paths.size());
  EXPECT_EQ(store.readings.load(), gen.readings);
  EXPECT_EQ(store.distinct_keys(), gen.distinct);
  std::uint64_t durable = 0;
  for (const auto& o : intake.outcomes()) durable += o.readings;
  EXPECT_EQ(durable, gen.readings);
}

TEST_F(Fixture, AFileAlreadyInTheLedgerIsNotReadAgain) {
  auto gen = generate_files(dir / "in", 1, 5, 10);
  FakeStore store;
  for (int run = 0; run < 2; ++run) {
    ListIntake intake(gen.paths);
    Metrics metrics;
    actors::run_pipeline(small_config(dir), store, intake, metrics);
    auto outcomes = intake.outcomes();
    ASSERT_EQ(outcomes.size(), 1u);
    EXPECT_EQ(outcomes[0].status, run == 0 ? FileStatus::durable : FileStatus::duplicate);
    EXPECT_EQ(metrics.reader.readings.get(), run == 0 ? gen.readings : 0u);
  }
  EXPECT_EQ(store.readings.load(), gen.readings);
}

// Counts every byte read from a file, in order or not.
class CountingFile : public ByteSource {
 public:
  CountingFile(const std::filesystem::path& path, std::atomic<std::uint64_t>& count)
      : inner_(path), count_(count) {}
  std::size_t read(char* out, std::size_t size) override { return counted(inner_.read(out, size)); }
  bool can_seek() const override { return inner_.can_seek(); }
  std::uint64_t seek(std::int64_t offset, int whence) override {
    return inner_.seek(offset, whence);
  }
  std::size_t read_at(std::uint64_t offset, char* out, std::size_t size) override {
    return counted(inner_.read_at(offset, out, size));
  }
  std::uint64_t size() override { return inner_.size(); }

 private:
  std::size_t counted(std::size_t n) {
    count_ += n;
    return n;
  }
  FileByteSource inner_;
  std::atomic<std::uint64_t>& count_;
};

// A file is read from disk once, hashed as it is parsed. Only a file whose fingerprint (size,
// first 64 KiB) the ledger knows is hashed whole first: skipped if its hash is known too, else
// read a second time to be parsed.
TEST_F(Fixture, AFileIsReadFromDiskOnceUnlessTheLedgerMightKnowIt) {
  auto gen = generate_files(dir / "in", 1, 20, 30);
  const auto file = gen.paths[0];
  const std::uint64_t size = std::filesystem::file_size(file);
  ASSERT_GT(size, 4 * kFingerprintHeadBytes);
  // The same size and first 64 KiB, another reading at the end: not a duplicate.
  const auto lookalike = dir / "in" / "lookalike.csv";
  std::string text = read_file(file);
  const auto digit = text.rfind('.') + 1;  // a decimal of the last value of the file
  ASSERT_TRUE(digit > size - kFingerprintHeadBytes && std::isdigit(text[digit]));
  text[digit] = static_cast<char>('0' + (text[digit] - '0' + 1) % 10);
  std::ofstream(lookalike, std::ios::binary) << text;
  ASSERT_EQ(std::filesystem::file_size(lookalike), size);

  FakeStore store;
  std::atomic<std::uint64_t> bytes{0};
  actors::RunOptions options;
  options.open_input = [&bytes](const std::filesystem::path& p) {
    return std::unique_ptr<ByteSource>(new CountingFile(p, bytes));
  };
  auto run = [&](const std::filesystem::path& path) {
    bytes = 0;
    ListIntake intake({path});
    Metrics metrics;
    actors::run_pipeline(small_config(dir), store, intake, metrics, options);
    auto outcomes = intake.outcomes();
    EXPECT_EQ(outcomes.size(), 1u);
    return outcomes.empty() ? FileStatus::failed : outcomes[0].status;
  };
  EXPECT_EQ(run(file), FileStatus::durable);
  EXPECT_GE(bytes.load(), size);
  EXPECT_LE(bytes.load(), size + kFingerprintHeadBytes) << "read once, plus its fingerprint";
  EXPECT_EQ(run(file), FileStatus::duplicate);
  EXPECT_LE(bytes.load(), size + kFingerprintHeadBytes) << "hashed once, not parsed";
  EXPECT_EQ(run(lookalike), FileStatus::durable);
  EXPECT_GE(bytes.load(), 2 * size) << "a known fingerprint: hashed, then parsed";
  EXPECT_EQ(store.readings.load(), 2 * gen.readings);
}

TEST_F(Fixture, CreditWindowsAreNeverExceeded) {
  auto gen = generate_files(dir / "in", 3, 10, 20);
  FakeStore store;
  store.delay = std::chrono::milliseconds(5);
  ListIntake intake(gen.paths);
  Metrics metrics;
  auto config = small_config(dir);
  actors::run_pipeline(config, store, intake, metrics);
  expect_all_durable(intake, gen.paths.size());
  // batcher -> writer: never more sealed batches out than the window.
  EXPECT_LE(metrics.writer.peak_in_flight.get(), config.writer_window);
  EXPECT_GE(metrics.writer.peak_in_flight.get(), 1u);
  // readers -> batcher: un-credited batches at the batcher never exceed the readers' windows.
  EXPECT_LE(metrics.batcher.peak_parked.get(),
            std::uint64_t{config.files_in_flight} * config.reader_window);
  EXPECT_LE(metrics.batcher.peak_buffered_readings.get(),
            config.batcher_max_readings + config.reader_batch_readings);
}

TEST_F(Fixture, SlowWriterThrottlesTheReaders) {
  auto gen = generate_files(dir / "in", 2, 20, 30);  // ~57k readings
  FakeStore store;
  store.delay = std::chrono::milliseconds(20);  // ~100k readings/s at 2048 per batch
  ListIntake intake(gen.paths);
  Metrics metrics;
  auto config = small_config(dir);
  // Readings read but not yet written can only sit in: reader pending + windows, the
  // assembler, sealed batches waiting, and the writer's window.
  const std::uint64_t chunk_readings = 16 * 1024 / 7 + config.reader_batch_readings;
  const std::uint64_t bound =
      config.files_in_flight * (chunk_readings + std::uint64_t{config.reader_window + 1} *
                                                     config.reader_batch_readings) +
      config.batcher_max_readings + config.reader_batch_readings +
      std::uint64_t{config.writer_window + 2} * config.batcher_max_readings;
  std::atomic<std::uint64_t> worst{0};
  actors::RunOptions options;
  options.progress_interval = std::chrono::milliseconds(5);
  options.on_progress = [&] {
    auto ahead = metrics.reader.readings.get() -
                 std::min(metrics.reader.readings.get(), metrics.writer.readings.get());
    if (ahead > worst) worst = ahead;
  };
  auto result = actors::run_pipeline(config, store, intake, metrics, options);
  EXPECT_TRUE(result.ok);
  expect_all_durable(intake, gen.paths.size());
  EXPECT_GT(metrics.reader.credit_stalls.get(), 0u) << "readers never had to wait";
  EXPECT_LE(worst.load(), bound) << "readers ran ahead of the writer";
  EXPECT_LT(worst.load(), gen.readings / 2) << "most of the input was read before it was written";
}

// Fails the first read of `victim` after one chunk, once: the reader actor dies mid-file.
class CrashOnce : public ByteSource {
 public:
  explicit CrashOnce(const std::filesystem::path& path) : inner_(path) {}
  std::size_t read(char* buf, std::size_t cap) override {
    if (++reads_ == 3) throw std::system_error(EIO, std::generic_category(), "injected EIO");
    return inner_.read(buf, cap);
  }
  bool can_seek() const override { return inner_.can_seek(); }
  std::uint64_t seek(std::int64_t offset, int whence) override {
    return inner_.seek(offset, whence);
  }
  std::size_t read_at(std::uint64_t offset, char* out, std::size_t size) override {
    return inner_.read_at(offset, out, size);
  }
  std::uint64_t size() override { return inner_.size(); }

 private:
  FileByteSource inner_;
  int reads_ = 0;
};

TEST_F(Fixture, CrashedReaderIsRestartedAndItsFileCompletes) {
  auto gen = generate_files(dir / "in", 3, 10, 20);
  auto victim = gen.paths[1];
  auto crashed = std::make_shared<std::atomic<bool>>(false);
  actors::RunOptions options;
  options.open_input = [victim, crashed](const std::filesystem::path& p) {
    if (p == victim && !crashed->exchange(true))
      return std::unique_ptr<ByteSource>(new CrashOnce(p));
    return std::unique_ptr<ByteSource>(new FileByteSource(p));
  };
  FakeStore store;
  ListIntake intake(gen.paths);
  Metrics metrics;
  auto result = actors::run_pipeline(small_config(dir), store, intake, metrics, options);
  EXPECT_TRUE(result.ok);
  EXPECT_TRUE(crashed->load());
  expect_all_durable(intake, gen.paths.size());
  EXPECT_EQ(metrics.reader.restarts.get(), 1u);
  EXPECT_EQ(store.distinct_keys(), gen.distinct);  // the crashed attempt's part is repeated
  for (const auto& o : intake.outcomes()) {
    if (o.file.path == victim) {
      EXPECT_EQ(o.readings, gen.readings / 3);
    }
  }
}

TEST_F(Fixture, NonIoStoreErrorIsHeldBySafetyAndTheFileCompletes) {
  auto gen = generate_files(dir / "in", 3, 10, 20);
  FakeStore store;
  store.crash_writes = 1;
  ListIntake intake(gen.paths);
  Metrics metrics;
  auto result = actors::run_pipeline(small_config(dir), store, intake, metrics);
  EXPECT_TRUE(result.ok);
  expect_all_durable(intake, gen.paths.size());
  EXPECT_EQ(store.distinct_keys(), gen.distinct);
  EXPECT_EQ(metrics.writer.failures.get(), 1u);
  EXPECT_GE(metrics.safety.landed.get(), 1u);
}

// A batch the store always refuses with a non-I/O error (a poison batch) ends in dead_letter/
// after max_retries; the daemon neither crash-loops nor gives up on the other files.
TEST_F(Fixture, PoisonBatchIsDeadLetteredAndThePipelineCarriesOn) {
  auto gen = generate_files(dir / "in", 1, 5, 10);
  FakeStore store;
  store.crash_writes = 1000000;
  ListIntake intake(gen.paths);
  Metrics metrics;
  auto config = small_config(dir);
  config.max_retries = 2;
  auto result = actors::run_pipeline(config, store, intake, metrics);
  EXPECT_TRUE(result.ok);
  auto outcomes = intake.outcomes();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].status, FileStatus::dead_letter);
  EXPECT_GE(metrics.safety.dead_lettered.get(), 1u);
  EXPECT_EQ(dead_lettered_readings(config), gen.readings);
}

TEST_F(Fixture, FailedWritesAreHeldBySafetyAndLandWhenSpaceReturns) {
  auto gen = generate_files(dir / "in", 3, 10, 20);
  FakeStore store;
  store.failing = true;
  ListIntake intake(gen.paths);
  Metrics metrics;
  auto config = small_config(dir);
  config.max_retries = 1000;  // never give up in this test
  std::thread disk([&] {
    // Space returns once the safety path has journaled something and retried a few times.
    while (metrics.safety.retries.get() < 5)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    store.failing = false;
  });
  auto result = actors::run_pipeline(config, store, intake, metrics);
  disk.join();
  EXPECT_TRUE(result.ok);
  expect_all_durable(intake, gen.paths.size());
  EXPECT_GE(metrics.safety.breaker_opens.get(), 1u);
  EXPECT_GE(metrics.safety.landed.get(), 1u);
  EXPECT_EQ(store.distinct_keys(), gen.distinct);
  // While the breaker was open the fast path did not hammer the disk: only the first write of
  // the writer failed, the rest were retries by the safety actor, one at a time.
  EXPECT_EQ(metrics.writer.failures.get(), metrics.safety.breaker_opens.get());
  EXPECT_TRUE(storage::journal::list(config.effective_journal_dir()).empty());
}

TEST_F(Fixture, BatchesGoToDeadLetterAfterMaxRetries) {
  auto gen = generate_files(dir / "in", 1, 5, 10);
  FakeStore store;
  store.failing = true;
  ListIntake intake(gen.paths);
  Metrics metrics;
  auto config = small_config(dir);
  config.max_retries = 2;
  auto result = actors::run_pipeline(config, store, intake, metrics);
  EXPECT_TRUE(result.ok);
  auto outcomes = intake.outcomes();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].status, FileStatus::dead_letter);
  // Every reading is in a dead-letter journal file, next to a JSON report.
  EXPECT_EQ(dead_lettered_readings(config), gen.readings);
}

TEST_F(Fixture, JournaledBatchesSurviveAShutdownAndLandAfterARestart) {
  auto gen = generate_files(dir / "in", 2, 10, 20);
  auto config = small_config(dir);
  config.retry_initial_ms = 10000;  // no retry during the first run
  config.retry_max_ms = 10000;
  FakeStore store;
  store.failing = true;
  {
    app::SpoolIntake intake(config);
    for (const auto& p : gen.paths)
      std::filesystem::rename(p, intake.dir("incoming") / p.filename());
    Metrics metrics;
    std::atomic<bool> stop{false};
    actors::RunOptions options;
    options.drain_on_signal = false;
    options.stop = &stop;
    options.progress_interval = std::chrono::milliseconds(2);
    options.on_progress = [&] {
      // The breaker is open and holds the readers; stop once something is in the journal.
      if (metrics.safety.batches_held.get() >= 1 &&
          !storage::journal::list(config.effective_journal_dir()).empty())
        stop = true;
    };
    actors::run_pipeline(config, store, intake, metrics, options);
    EXPECT_GE(metrics.safety.batches_held.get(), 1u);
  }
  EXPECT_FALSE(storage::journal::list(config.effective_journal_dir()).empty());
  EXPECT_EQ(store.distinct_keys(), 0u);
  // Space is back: the journal is replayed at start-up, the claimed files are read again, and
  // every reading is there once.
  store.failing = false;
  config.retry_initial_ms = 5;
  {
    app::SpoolIntake intake(config);
    Metrics metrics;
    std::atomic<bool> stop{false};
    actors::RunOptions options;
    options.drain_on_signal = false;
    options.stop = &stop;
    options.on_progress = [&] {
      if (metrics.files.durable.get() == gen.paths.size() && metrics.safety.held_now.get() == 0)
        stop = true;
    };
    actors::run_pipeline(config, store, intake, metrics, options);
    EXPECT_GE(metrics.safety.landed.get(), 1u) << "the journal was not replayed";
  }
  EXPECT_TRUE(storage::journal::list(config.effective_journal_dir()).empty());
  EXPECT_EQ(store.distinct_keys(), gen.distinct);
}

TEST_F(Fixture, DrainFlushesEverythingAndLeavesTheRestClaimed) {
  auto gen = generate_files(dir / "in", 8, 10, 20);
  auto config = small_config(dir);
  config.files_in_flight = 2;
  FakeStore store;
  store.delay = std::chrono::milliseconds(10);
  {
    app::SpoolIntake intake(config);
    for (const auto& p : gen.paths)
      std::filesystem::rename(p, intake.dir("incoming") / p.filename());
    Metrics metrics;
    std::atomic<bool> stop{false};
    actors::RunOptions options;
    options.drain_on_signal = false;
    options.stop = &stop;
    options.progress_interval = std::chrono::milliseconds(2);
    options.on_progress = [&] {
      if (metrics.files.durable.get() >= 1) stop = true;
    };
    auto result = actors::run_pipeline(config, store, intake, metrics, options);
    EXPECT_TRUE(result.ok);
    EXPECT_TRUE(result.interrupted);
    // Every batch sealed before the drain reached the store: nothing in flight was dropped.
    EXPECT_EQ(metrics.writer.in_flight.get(), 0u);
    EXPECT_EQ(metrics.batcher.readings_in.get(), metrics.writer.readings.get());
  }
  auto count = [&](const char* sub) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator(config.spool_dir / sub))
      ++n;
    return n;
  };
  EXPECT_GE(count("done"), 1u);
  EXPECT_LT(count("done"), gen.paths.size());
  EXPECT_EQ(count("done") + count("processing") + count("incoming"), gen.paths.size());
  // The next start picks up where the drain left off, and then everything is there.
  {
    app::SpoolIntake intake(config);
    Metrics metrics;
    std::atomic<bool> stop{false};
    actors::RunOptions options;
    options.drain_on_signal = false;
    options.stop = &stop;
    options.on_progress = [&] {
      if (count("done") == gen.paths.size()) stop = true;
    };
    actors::run_pipeline(config, store, intake, metrics, options);
  }
  EXPECT_EQ(count("done"), gen.paths.size());
  EXPECT_EQ(count("reports"), gen.paths.size());
  EXPECT_EQ(store.distinct_keys(), gen.distinct);
}

}  // namespace
}  // namespace meterd::test
