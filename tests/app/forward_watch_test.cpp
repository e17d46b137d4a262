// `meterd forward --watch DIR` against a real central `meterd serve` on a loopback socket:
// files dropped into the directory after the forwarder started (renamed in, or written in place
// and closed) arrive at the central with exactly their readings; a file present before the start
// is sent too; `.tmp` and `.part` files are not; a file written in place slowly is read only once
// its writer closed it (a poller would catch it half-written); SIGTERM ends the watch promptly
// with status 0; the state file lists each file once, also across a restart.
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <thread>
#include <tuple>

#include "tests/app/http_daemon.hpp"

namespace meterd::test {
namespace {

namespace fs = std::filesystem;
using Readings = std::map<std::string, double>;  // "nmi interval_start" -> value

// 48 half-hourly readings of one NMI on 2024-02-01, with values distinct per file and interval.
struct Drop {
  std::string ndjson;
  Readings readings;
};
Drop make_drop(int file) {
  char nmi[16];
  std::snprintf(nmi, sizeof nmi, "WATCH%05d", file);
  Drop d;
  for (int i = 0; i < 48; ++i) {
    char start[32];
    std::snprintf(start, sizeof start, "2024-02-01T%02d:%02d:00+10:00", i / 2, i % 2 * 30);
    const double value = file * 100 + i * 0.25;
    char line[256];
    std::snprintf(line, sizeof line,
                  R"({"nmi":"%s","suffix":"E1","interval_start":"%s","interval_minutes":30,)"
                  R"("value":%.2f,"uom":"kWh","quality":"A"})"
                  "\n",
                  nmi, start, value);
    d.ndjson += line;
    d.readings[std::string(nmi) + " " + start] = value;
  }
  return d;
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// The central's readings, from its query API (CSV:
// nmi,suffix,interval_start,interval_minutes,value,…).
Readings central_readings(const HttpDaemon& central) {
  Readings got;
  auto q = central.get("/v1/readings?format=csv");
  EXPECT_EQ(q.status, 200) << q.body;
  std::istringstream in(q.body);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) f.push_back(cell);
    if (f.size() < 5) {
      ADD_FAILURE() << "unexpected query line: " << line;
      continue;
    }
    auto [at, added] = got.emplace(f[0] + " " + f[2], std::stod(f[4]));
    EXPECT_TRUE(added) << "reading twice in the query: " << line;
  }
  return got;
}

// File name -> requests recorded ("<checksum> <key> <path>#<part>" per acknowledged
// request: a RecordLog line).
std::map<std::string, int> state_entries(const fs::path& state) {
  std::map<std::string, int> files;
  std::ifstream in(state);
  for (std::string line; std::getline(in, line);) {
    auto name = line.substr(line.find(' ', line.find(' ') + 1) + 1);
    ++files[fs::path(name.substr(0, name.rfind('#'))).filename().string()];
  }
  return files;
}

bool acknowledged(const fs::path& state, const std::string& file) {
  return state_entries(state).count(file) > 0;
}

// SIGTERM, then the exit status and how long the exit took (SIGKILL after 30 s: status -1).
std::pair<int, double> terminate(pid_t pid) {
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(30)) {
      ::kill(pid, SIGKILL);
      wait_process(pid);
      return {-1, 30};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), took};
}

TEST(ForwardWatchTest, FilesDroppedAfterTheStartArriveOnceAndTempNamesAreIgnored) {
  auto dir = make_temp_dir("meterd-forward-watch");
  const auto edge = dir / "edge", staging = dir / "staging";
  fs::create_directories(edge);
  fs::create_directories(staging);
  Readings want;
  auto drop_into = [&](int file, const fs::path& path) {
    auto d = make_drop(file);
    write(path, d.ndjson);
    want.insert(d.readings.begin(), d.readings.end());
  };
  drop_into(1, edge / "before.ndjson");
  write(edge / "old.part", make_drop(90).ndjson);  // ignored from the first scan on

  HttpDaemon central(dir / "central");
  ASSERT_TRUE(central.start()) << read_file(central.log);
  const auto state = dir / "forward.state";
  const auto log = dir / "forward.log";
  const std::vector<std::string> args = {meterd_binary().string(),
                                         "forward",
                                         "--to",
                                         "http://127.0.0.1:" + std::to_string(central.port),
                                         "--state",
                                         state.string(),
                                         "--parallel",
                                         "2",
                                         "--watch",
                                         edge.string()};
  pid_t forwarder = spawn_process(args, log);
  struct Reap {  // a failed assertion must not leave a forwarder watching forever
    pid_t& pid;
    ~Reap() {
      if (pid > 0) terminate(pid);
    }
  } reap{forwarder};
  // Acknowledged means the first scan is done, and the watch was set up before it.
  ASSERT_TRUE(
      wait_until([&] { return acknowledged(state, "before.ndjson"); }, std::chrono::seconds(60)))
      << read_file(log);

  // Temp names in the directory, never renamed: ignored.
  write(edge / "never.tmp", make_drop(91).ndjson);
  write(edge / ".hidden.ndjson", make_drop(92).ndjson);
  // Written elsewhere and renamed in; written under an ignored name and renamed.
  drop_into(2, staging / "renamed.ndjson");
  fs::rename(staging / "renamed.ndjson", edge / "renamed.ndjson");
  drop_into(3, edge / "renamed-part.ndjson.part");
  fs::rename(edge / "renamed-part.ndjson.part", edge / "renamed-part.ndjson");
  // Written in place and closed.
  drop_into(4, edge / "direct.ndjson");
  // Written in place slowly: a poller would catch the first half alone; the watch waits for
  // the close.
  {
    auto d = make_drop(5);
    std::ofstream out(edge / "slow.ndjson", std::ios::binary);
    const auto half = d.ndjson.find('\n', d.ndjson.size() / 2) + 1;
    out << d.ndjson.substr(0, half) << std::flush;
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    out << d.ndjson.substr(half);
    out.close();
    want.insert(d.readings.begin(), d.readings.end());
  }

  ASSERT_TRUE(wait_until([&] { return central_readings(central).size() >= want.size(); },
                         std::chrono::seconds(60)))
      << "the central has " << central_readings(central).size() << " of " << want.size()
      << " readings\n"
      << read_file(log);
  EXPECT_EQ(central_readings(central), want);
  // The forwarder records a request after the central's 200, so its state may lag the query.
  ASSERT_TRUE(
      wait_until([&] { return state_entries(state).size() == 5; }, std::chrono::seconds(10)))
      << read_file(state);

  // Touching an acknowledged file announces it again (IN_CLOSE_WRITE, new mtime): it is read
  // and recognised by its hash, not sent again. A file dropped after it is handled after it.
  {
    int fd = ::open((edge / "direct.ndjson").c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const timespec later[2] = {{0, UTIME_NOW}, {std::time(nullptr) + 5, 0}};
    ASSERT_EQ(::futimens(fd, later), 0);
    ::close(fd);
  }
  drop_into(6, staging / "after-touch.ndjson");
  fs::rename(staging / "after-touch.ndjson", edge / "after-touch.ndjson");
  ASSERT_TRUE(wait_until([&] { return acknowledged(state, "after-touch.ndjson"); },
                         std::chrono::seconds(60)))
      << read_file(log);

  auto [rc, took] = terminate(forwarder);
  forwarder = -1;
  EXPECT_EQ(rc, 0) << read_file(log);
  EXPECT_LT(took, 3.0);
  {
    const auto text = read_file(log);
    const auto summary = text.substr(text.rfind("forwarded:"));  // the touched file: skipped
    EXPECT_NE(summary.find("(6 acknowledged, 1 already acknowledged earlier, 0 refused)"),
              std::string::npos)
        << summary;
  }
  const std::map<std::string, int> once = {{"before.ndjson", 1},       {"renamed.ndjson", 1},
                                           {"renamed-part.ndjson", 1}, {"direct.ndjson", 1},
                                           {"slow.ndjson", 1},         {"after-touch.ndjson", 1}};
  EXPECT_EQ(state_entries(state), once) << read_file(state);
  EXPECT_EQ(central_readings(central), want);

  // A restarted forwarder sends nothing it acknowledged before, only what is new.
  forwarder = spawn_process(args, log);
  drop_into(7, staging / "second-run.ndjson");
  fs::rename(staging / "second-run.ndjson", edge / "second-run.ndjson");
  ASSERT_TRUE(wait_until([&] { return acknowledged(state, "second-run.ndjson"); },
                         std::chrono::seconds(60)))
      << read_file(log);
  std::tie(rc, took) = terminate(forwarder);
  forwarder = -1;
  EXPECT_EQ(rc, 0) << read_file(log);
  EXPECT_LT(took, 3.0);
  const auto text = read_file(log);
  const auto summary = text.substr(text.rfind("forwarded:"));
  EXPECT_NE(summary.find("(1 acknowledged, 6 already acknowledged earlier, 0 refused)"),
            std::string::npos)
      << summary;
  auto expected_state = once;
  expected_state["second-run.ndjson"] = 1;
  EXPECT_EQ(state_entries(state), expected_state) << read_file(state);
  EXPECT_EQ(central_readings(central), want);

  EXPECT_EQ(central.stop(), 0) << read_file(central.log);
  if (!std::getenv("METERD_KEEP_TEST_DIRS") && !HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
