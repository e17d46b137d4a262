// `meterd query` in bounded memory over a directory of thousands of parts that all overlap (the
// merge must spill): peak RSS of the process (wait4, ru_maxrss) under 64 MiB for one NMI and
// 256 MiB for everything, and the answer exactly the newest versions.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "protocol/reading_format.hpp"
#include "storage/store.hpp"
#include "tests/storage/batch_fixture.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage::test {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRssMeaningful = false;  // ASan's shadow memory and quarantine
#else
constexpr bool kRssMeaningful = true;
#endif

struct MeasuredRun {
  int status = -1;
  long peak_kib = 0;
};

// Runs args with stdout to `out`; the child's peak RSS from the kernel, not sampled.
MeasuredRun run_measured(const std::vector<std::string>& args, const std::filesystem::path& out) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  MeasuredRun r;
  struct rusage usage {};
  if (pid > 0 && ::wait4(pid, &r.status, 0, &usage) == pid) r.peak_kib = usage.ru_maxrss;
  return r;
}

TEST(StorageQueryMemory, ThousandsOfOverlappingPartsAreQueriedInBoundedMemory) {
  if (!std::filesystem::exists(meterd::test::meterd_binary())) {
    if (meterd::test::running_in_ci()) FAIL() << "meterd binary not built";
    GTEST_SKIP() << "meterd binary not built: build the meterd target first";
  }
  const auto dir = meterd::test::make_temp_dir("meterd-query-memory");
  constexpr int kParts = 2000;
  Model model;
  {
    Store store(dir);
    for (int i = 0; i < kParts; ++i) {
      FixtureOptions o;
      o.nmis = 4, o.days = 1, o.interval_minutes = 5;  // 2,304 readings a part
      o.first_day += (i % 30) * 86400;  // ~67 versions of every reading, newer and older
      o.seed = static_cast<std::uint32_t>(i + 1);
      o.update_datetime += (i * 7919) % 1000;
      o.file_sequence = static_cast<std::uint64_t>(i + 1);
      const ReadingBatch b = make_batch(o);
      model.add(b);
      store.write(b);
    }
  }
  std::string header;
  append_csv_header(header);
  const std::string bin = meterd::test::meterd_binary().string();
  const auto out = dir / "out.csv";

  const MeasuredRun one =
      run_measured({bin, "query", "--data-dir", dir.string(), "--nmi", "NMI0001002"}, out);
  EXPECT_EQ(one.status, 0);
  QueryFilter f;
  f.nmi = "NMI0001002";
  EXPECT_TRUE(meterd::test::read_file(out) == header + model.csv(f)) << "one NMI";
  EXPECT_EQ(model.csv(f).empty(), false);

  const MeasuredRun all = run_measured({bin, "query", "--data-dir", dir.string()}, out);
  EXPECT_EQ(all.status, 0);
  EXPECT_TRUE(meterd::test::read_file(out) == header + model.csv()) << "everything";

  std::printf("%d parts, %zu readings: one NMI peak RSS %ld KiB, everything %ld KiB\n", kParts,
              model.size(), one.peak_kib, all.peak_kib);
  if (kRssMeaningful) {
    EXPECT_GT(one.peak_kib, 0);
    EXPECT_LE(one.peak_kib, 64 * 1024);
    EXPECT_LE(all.peak_kib, 256 * 1024);
  }
  // The spill parts went with the process.
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find("spill"), std::string::npos) << e.path();
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meterd::storage::test
