// DirWatch, the one inotify watcher (forward --watch, the spool's incoming/): a file is
// announced once its writer closes it or it is renamed in, not while it is being written; a
// zero timeout does not wait; a directory that cannot be watched is an error the caller sees.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "app/dir_watch.hpp"
#include "tests/test_support.hpp"

namespace meterd::app {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::vector<fs::path> wait_for(DirWatch& watch, milliseconds timeout) {
  bool overflowed = false;
  auto files = watch.wait(timeout, overflowed);
  EXPECT_FALSE(overflowed);
  std::sort(files.begin(), files.end());
  return files;
}

TEST(DirWatchTest, AnnouncesClosedAndRenamedInFilesOnly) {
  const auto dir = test::make_temp_dir("meterd-dir-watch"), elsewhere = dir / "elsewhere";
  const auto watched = dir / "watched";
  fs::create_directories(watched);
  fs::create_directories(elsewhere);
  DirWatch watch({watched});

  const int fd = ::open((watched / "slow.csv").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "100,", 4), 4);
  EXPECT_TRUE(wait_for(watch, milliseconds(50)).empty()) << "announced while still open";
  ::close(fd);
  EXPECT_EQ(wait_for(watch, milliseconds(2000)), std::vector<fs::path>{watched / "slow.csv"});

  std::ofstream(elsewhere / "moved.csv") << "100,";
  fs::rename(elsewhere / "moved.csv", watched / "moved.csv");
  std::ofstream(elsewhere / "stays.csv") << "100,";  // another directory: not announced
  fs::create_directory(watched / "subdir");
  EXPECT_EQ(wait_for(watch, milliseconds(2000)), std::vector<fs::path>{watched / "moved.csv"});
  fs::remove_all(dir);
}

TEST(DirWatchTest, AZeroTimeoutTakesWhatIsQueuedWithoutWaiting) {
  const auto dir = test::make_temp_dir("meterd-dir-watch");
  DirWatch watch({dir});
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_for(watch, milliseconds(0)).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(50));
  // More announcements than one read of the queue takes (64 KiB): all of them, in one call.
  const std::string long_name(40, 'n');
  for (int i = 0; i < 3000; ++i) std::ofstream(dir / (long_name + std::to_string(i))) << i;
  EXPECT_EQ(wait_for(watch, milliseconds(0)).size(), 3000u);
  EXPECT_TRUE(wait_for(watch, milliseconds(0)).empty());
  fs::remove_all(dir);
}

TEST(DirWatchTest, AMissingDirectoryIsAnError) {
  const auto dir = test::make_temp_dir("meterd-dir-watch");
  EXPECT_THROW(DirWatch({dir, dir / "missing"}), std::runtime_error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd::app
