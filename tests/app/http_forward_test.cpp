// `meterd forward` from an edge to a central `meterd serve` on real loopback sockets: the
// central query equals a local ingest of the same files, also when the central daemon is
// killed with SIGKILL mid-stream and restarted, and when the forwarder itself is killed and
// restarted (it resumes from its state file without sending acknowledged requests again).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "protocol/nem12_generator.hpp"
#include "tests/app/http_daemon.hpp"

namespace meterd::test {
namespace {

namespace fs = std::filesystem;

std::size_t line_count(const fs::path& file) {
  if (!fs::exists(file)) return 0;
  auto text = read_file(file);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::vector<std::string> query_sorted(const fs::path& data, const fs::path& scratch) {
  auto out = scratch / "query.csv";
  int rc = run_to_file({meterd_binary().string(), "query", "--data-dir", data.string()}, out,
                       scratch / "query.log");
  EXPECT_EQ(rc, 0) << read_file(scratch / "query.log");
  return sorted_lines(read_file(out), true);
}

TEST(HttpForwardTest, KillNineCentralAndEdgeMidStreamEverythingArrivesOnce) {
  auto dir = make_temp_dir("meterd-http-forward");
  auto edge = dir / "edge";
  fs::create_directories(edge);
  std::vector<std::string> sources;
  for (int i = 0; i < 5; ++i) {
    GeneratorOptions g;
    g.seed = 10 + static_cast<std::uint64_t>(i);
    g.nmis = 12;
    g.days = 20;
    g.resent_day_fraction = 0.05;
    g.start_date = i % 2 ? "20240101" : "20240110";  // overlapping: supersession matters
    auto f = dir / ("src-" + std::to_string(i) + ".csv");
    generate_nem12_file(g, f);
    sources.push_back(f.string());
    if (i < 3) {
      fs::copy_file(f, edge / f.filename());  // raw NEM12 -> /v1/files
    } else {                                  // NDJSON -> /v1/readings in many small requests
      auto out = edge / ("readings-" + std::to_string(i) + ".ndjson");
      ASSERT_EQ(run_to_file({meterd_binary().string(), "parse", "--format", "json", f.string()},
                            out, dir / "parse.log"),
                0);
    }
  }
  // Local: the same files ingested in place, in the forwarder's order (name order).
  std::vector<std::string> ingest = {meterd_binary().string(), "ingest", "--data-dir",
                                     (dir / "local").string()};
  for (int i : {0, 1, 2, 3, 4}) ingest.push_back(sources[static_cast<std::size_t>(i)]);
  ASSERT_EQ(run_to_file(ingest, dir / "ingest.out", dir / "ingest.log"), 0)
      << read_file(dir / "ingest.log");
  auto want = query_sorted(dir / "local", dir);
  ASSERT_GT(want.size(), 10000u);

  HttpDaemon central(dir / "central");
  central.port = free_loopback_port();
  ASSERT_TRUE(central.start()) << read_file(central.log);
  const auto state = dir / "forward.state";
  auto forward_args = std::vector<std::string>{meterd_binary().string(),
                                               "forward",
                                               "--to",
                                               "http://127.0.0.1:" + std::to_string(central.port),
                                               "--state",
                                               state.string(),
                                               "--batch-bytes",
                                               "60000",
                                               "--parallel",
                                               "2",
                                               edge.string()};
  const auto forward_log = dir / "forward.log";
  pid_t forwarder = spawn_process(forward_args, forward_log);

  // Central dies (SIGKILL) once a few requests are acknowledged, and comes back.
  ASSERT_TRUE(wait_until([&] { return line_count(state) >= 4; }, std::chrono::seconds(60)))
      << read_file(forward_log);
  central.kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(central.start()) << read_file(central.log);

  // Then the forwarder dies (SIGKILL) and is restarted: it resumes from its state file.
  const auto before = line_count(state);
  ASSERT_TRUE(wait_until([&] { return line_count(state) >= before + 4; }, std::chrono::seconds(60)))
      << read_file(forward_log);
  ::kill(forwarder, SIGKILL);
  wait_process(forwarder);
  const auto acknowledged_before_restart = line_count(state);
  forwarder = spawn_process(forward_args, forward_log);
  EXPECT_EQ(wait_process(forwarder), 0) << read_file(forward_log);
  const auto log_text = read_file(forward_log);
  auto summary = log_text.substr(log_text.rfind("forwarded:"));
  EXPECT_NE(
      summary.find(std::to_string(acknowledged_before_restart) + " already acknowledged earlier"),
      std::string::npos)
      << summary;

  // A third run has nothing left to send.
  ASSERT_EQ(run_to_file(forward_args, dir / "again.out", dir / "again.log"), 0);
  auto again = read_file(dir / "again.log");
  EXPECT_NE(again.find("(0 acknowledged"), std::string::npos) << again;

  EXPECT_EQ(central.stop(), 0) << read_file(central.log);
  auto got = query_sorted(central.data, dir);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

// On a terminal the forwarder shows the central's figures: its last progress line (the
// forwarder run under script(1), for a terminal) says the central has every byte read, and as
// many readings durable as the central's query returns, with the rejects of the defective day.
TEST(HttpForwardTest, TheProgressLineOnATerminalShowsWhatTheCentralHas) {
  if (!fs::exists("/usr/bin/script")) GTEST_SKIP() << "no script(1)";
  auto dir = make_temp_dir("meterd-forward-progress");
  GeneratorOptions g;
  g.nmis = 40;
  g.days = 10;
  g.malformed_fraction = 0.02;
  const auto big = dir / "big.csv", small = dir / "small.csv";
  generate_nem12_file(g, big);  // over --batch-bytes: an upload in ranges
  g.seed = 2;
  g.nmis = 2;
  g.days = 2;
  g.malformed_fraction = 0;
  generate_nem12_file(g, small);  // one request
  const auto bytes = fs::file_size(big) + fs::file_size(small);
  ASSERT_GT(fs::file_size(big), 200000u);

  HttpDaemon central(dir / "central");
  ASSERT_TRUE(central.start()) << read_file(central.log);
  std::string command = meterd_binary().string() +
                        " forward --to http://127.0.0.1:" + std::to_string(central.port) +
                        " --state " + (dir / "forward.state").string() + " --batch-bytes 100000 " +
                        big.string() + " " + small.string();
  const auto out = dir / "terminal.txt";
  ASSERT_EQ(run_to_file({"/usr/bin/script", "-qec", command, "/dev/null"}, out, dir / "script.log"),
            0)
      << read_file(out);
  const std::string text = read_file(out);
  const auto last = text.rfind("\rforward: ");
  ASSERT_NE(last, std::string::npos) << text;
  const std::string line = text.substr(last + 1, text.find('\n', last) - last - 1);
  auto figure = [&](const std::string& label) {
    const auto at = line.find(label + " ");
    EXPECT_NE(at, std::string::npos) << label << " in " << line;
    return at == std::string::npos
               ? std::string()
               : line.substr(at + label.size() + 1,
                             line.find(' ', at + label.size() + 1) - at - label.size() - 1);
  };
  char mb[32];
  std::snprintf(mb, sizeof mb, "%.1f", static_cast<double>(bytes) / 1e6);
  EXPECT_EQ(figure("read"), mb) << line;
  EXPECT_EQ(figure("central has"), mb) << line;
  EXPECT_NE(line.find("forward: 2 files"), std::string::npos) << line;
  EXPECT_EQ(figure("refused"), "0") << line;
  EXPECT_GT(std::stoull("0" + figure("rejects")), 0u) << line;
  EXPECT_EQ(central.stop(), 0) << read_file(central.log);
  // The query's rows, its header line aside.
  EXPECT_EQ(std::to_string(query_sorted(central.data, dir).size() - 1), figure("durable")) << line;
  if (!std::getenv("METERD_KEEP_TEST_DIRS") && !HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
