// Files of any size through the HTTP API (app/http_uploads.hpp): POST /v1/files streams to the
// spool (chunked too) and answers 507 before reading what the spool cannot hold; the resumable
// upload protocol; and `meterd forward` shipping a file far larger than the central's body
// limit, through kill -9 of either side, ending equal to a local ingest with both processes'
// memory bounded, while a refused file ends with exit status 1 at once.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "protocol/nem12_generator.hpp"
#include "protocol/sha256.hpp"
#include "tests/app/http_daemon.hpp"

namespace meterd::test {
namespace {

namespace fs = std::filesystem;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

std::string file_sha256(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  Sha256 hash;
  std::string chunk(1u << 20, '\0');
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    hash.update(std::string_view(chunk.data(), static_cast<std::size_t>(in.gcount())));
  }
  return hash.hex_digest();
}

// sha256 and line count of `meterd query` over `data`, streamed: the output is gigabytes.
std::pair<std::string, std::uint64_t> query_digest(const fs::path& data) {
  const std::string command = meterd_binary().string() + " query --data-dir " + data.string();
  FILE* out = ::popen(command.c_str(), "r");
  EXPECT_NE(out, nullptr);
  if (!out) return {};
  Sha256 hash;
  std::uint64_t lines = 0;
  std::string chunk(1u << 20, '\0');
  while (const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), out)) {
    hash.update(std::string_view(chunk.data(), n));
    lines += static_cast<std::uint64_t>(std::count(chunk.begin(), chunk.begin() + n, '\n'));
  }
  EXPECT_EQ(::pclose(out), 0);
  return {hash.hex_digest(), lines};
}

// Peak resident set (VmHWM) of a live process, in MiB.
std::uint64_t peak_rss_mib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) / 1024;
  return 0;
}

std::uint64_t size_or_zero(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

fs::path small_nem12(const fs::path& dir, unsigned nmis) {
  GeneratorOptions g;
  g.nmis = nmis;
  g.days = 30;
  const auto path = dir / ("small-" + std::to_string(nmis) + ".csv");
  generate_nem12_file(g, path);
  return path;
}

TEST(HttpUploadTest, FilesStreamChunkedAndWhatTheSpoolCannotHoldIsRefusedUnread) {
  const auto dir = make_temp_dir("meterd-http-files");
  const std::string text = read_file(small_nem12(dir, 3));
  HttpDaemon central(dir / "central");
  ASSERT_TRUE(central.start()) << read_file(central.log);

  // Chunked, in pieces of 1000 bytes.
  const int fd = connect_loopback(central.port);
  ASSERT_GE(fd, 0);
  std::string request =
      "POST /v1/files HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: "
      "chunked\r\n\r\n";
  for (std::size_t at = 0; at < text.size(); at += 1000) {
    const std::string piece = text.substr(at, 1000);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    request += size + piece + "\r\n";
  }
  request += "0\r\n\r\n";
  ASSERT_TRUE(send_all(fd, request));
  const HttpReply chunked = parse_reply(read_to_eof(fd));
  ::close(fd);
  EXPECT_EQ(chunked.status, 200) << chunked.body;
  Sha256 whole;
  whole.update(text);
  EXPECT_NE(chunked.body.find("\"id\":\"" + whole.hex_digest() + "\""), std::string::npos)
      << "the id is the sha256 of the decoded body: " << chunked.body;
  EXPECT_NE(chunked.body.find("\"status\":\"durable\""), std::string::npos) << chunked.body;
  EXPECT_EQ(central.stop(), 0);

  // A spool that must keep more free than the disk has: 507 before the body is read.
  central.settings = {"spool_reserve_bytes=1152921504606846976"};
  ASSERT_TRUE(central.start()) << read_file(central.log);
  const HttpReply full = central.post("/v1/files", text);
  EXPECT_EQ(full.status, 507) << full.body;
  EXPECT_NE(full.body.find("spool_reserve_bytes"), std::string::npos) << full.body;
  EXPECT_EQ(central.stop(), 0);

  // A file over http_max_file_bytes: 413 on its Content-Length.
  central.settings = {"http_max_file_bytes=1000"};
  ASSERT_TRUE(central.start()) << read_file(central.log);
  const HttpReply large = central.post("/v1/files", text);
  EXPECT_EQ(large.status, 413) << large.body;
  EXPECT_EQ(central.stop(), 0);
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

TEST(HttpUploadTest, RangesGoOnFromTheServersOffsetAndTheWholeMustHashToTheId) {
  const auto dir = make_temp_dir("meterd-http-uploads");
  const std::string text = read_file(small_nem12(dir, 4));
  Sha256 h;
  h.update(text);
  const std::string id = h.hex_digest(), total = std::to_string(text.size());
  const std::size_t half = text.size() / 2;
  HttpDaemon central(dir / "central");
  ASSERT_TRUE(central.start()) << read_file(central.log);
  const auto put = [&](std::size_t first, std::size_t last, const std::string& upload_id) {
    return http_request(central.port, "PUT", "/v1/uploads/" + upload_id,
                        text.substr(first, last - first + 1),
                        {"Content-Range: bytes " + std::to_string(first) + "-" +
                         std::to_string(last) + "/" + total});
  };
  EXPECT_NE(central.get("/v1/uploads/" + id).body.find("\"offset\":0"), std::string::npos);
  const HttpReply first = put(0, half - 1, id);
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.body.find("\"offset\":" + std::to_string(half)), std::string::npos);
  const HttpReply gap = put(half + 10, text.size() - 1, id);
  EXPECT_EQ(gap.status, 409) << gap.body;
  EXPECT_NE(gap.body.find("\"offset\":" + std::to_string(half)), std::string::npos) << gap.body;
  EXPECT_EQ(put(100, half - 1, id).status, 200) << "a range sent again replaces what it covers";
  const HttpReply last = put(half, text.size() - 1, id);
  EXPECT_EQ(last.status, 200) << last.body;
  EXPECT_NE(last.body.find("\"status\":\"durable\""), std::string::npos) << last.body;
  EXPECT_FALSE(fs::exists(central.spool / "uploads" / (id + ".part")));

  // Bytes that are not the file the id names are discarded, not ingested.
  const std::string wrong(64, 'a');
  EXPECT_EQ(put(0, half - 1, wrong).status, 200);
  const HttpReply mismatch = put(half, text.size() - 1, wrong);
  EXPECT_EQ(mismatch.status, 422) << mismatch.body;
  EXPECT_FALSE(fs::exists(central.spool / "uploads" / (wrong + ".part")));
  EXPECT_EQ(central.stop(), 0);
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

TEST(HttpUploadTest, RefusedFilesEndTheForwarderWithStatusOneWithinSeconds) {
  const auto dir = make_temp_dir("meterd-http-refused");
  const auto edge = dir / "edge";
  fs::create_directories(edge);
  fs::copy_file(small_nem12(dir, 30), edge / "a-too-large.csv");  // > http_max_file_bytes
  {
    std::ofstream(edge / "b-not-nem12.csv") << "this is not a meter data file\n";  // 422
  }
  HttpDaemon central(dir / "central");
  central.settings = {"http_max_file_bytes=200000"};
  ASSERT_TRUE(central.start()) << read_file(central.log);
  for (const char* batch : {"8388608", "50000"}) {  // whole-file POSTs, then uploads
    const auto log = dir / (std::string("forward-") + batch + ".log");
    const auto started = std::chrono::steady_clock::now();
    const int rc = run_to_file({meterd_binary().string(), "forward", "--to",
                                "http://127.0.0.1:" + std::to_string(central.port), "--state",
                                (dir / (std::string("state-") + batch)).string(), "--batch-bytes",
                                batch, "--quiet", edge.string()},
                               dir / "forward.out", log);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::string text = read_file(log);
    EXPECT_EQ(rc, 1) << text;
    EXPECT_LT(seconds, 20.0) << text;
    EXPECT_NE(text.find("a-too-large.csv refused (413)"), std::string::npos) << text;
    EXPECT_NE(text.find("http_max_file_bytes"), std::string::npos) << text;
    EXPECT_NE(text.find("b-not-nem12.csv refused (422)"), std::string::npos) << text;
    EXPECT_EQ(text.find("retrying"), std::string::npos) << "a 4xx is never retried: " << text;
  }
  EXPECT_EQ(central.stop(), 0);
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

TEST(HttpUploadTest, AFileFarOverTheBodyLimitSurvivesKillNineOfBothSides) {
  const auto dir = make_temp_dir("meterd-http-big-upload");
  const auto edge = dir / "edge";
  fs::create_directories(edge);
  GeneratorOptions g;
  g.nmis = kSanitized ? 200 : 1600;  // ~48 MB under ASan, ~380 MB otherwise
  g.days = 365;
  const auto source = edge / "big.csv";
  generate_nem12_file(g, source);
  const std::uint64_t size = fs::file_size(source);
  const std::string id = file_sha256(source);

  ASSERT_EQ(run_to_file({meterd_binary().string(), "ingest", "--data-dir", (dir / "local").string(),
                         "--no-progress", source.string()},
                        dir / "ingest.out", dir / "ingest.log"),
            0)
      << read_file(dir / "ingest.log");

  HttpDaemon central(dir / "central");
  central.port = free_loopback_port();
  central.settings = {"http_max_body_bytes=4194304"};
  ASSERT_TRUE(central.start()) << read_file(central.log);
  const auto part = central.spool / "uploads" / (id + ".part");
  const std::vector<std::string> forward = {meterd_binary().string(),
                                            "forward",
                                            "--to",
                                            "http://127.0.0.1:" + std::to_string(central.port),
                                            "--state",
                                            (dir / "forward.state").string(),
                                            "--batch-bytes",
                                            "1048576",
                                            "--quiet",
                                            source.string()};
  const auto forward_log = dir / "forward.log";
  pid_t forwarder = spawn_process(forward, forward_log);
  std::uint64_t forwarder_peak = 0, central_peak = 0;

  // The central dies a third of the way in, and comes back.
  ASSERT_TRUE(wait_until([&] { return size_or_zero(part) > size / 3; }, std::chrono::seconds(120)))
      << read_file(forward_log);
  central_peak = std::max(central_peak, peak_rss_mib(central.pid));
  central.kill9();
  ASSERT_TRUE(central.start()) << read_file(central.log);

  // The forwarder dies two thirds of the way in; restarted, it goes on from the central's offset.
  ASSERT_TRUE(
      wait_until([&] { return size_or_zero(part) > 2 * size / 3; }, std::chrono::seconds(120)))
      << read_file(forward_log);
  forwarder_peak = std::max(forwarder_peak, peak_rss_mib(forwarder));
  ::kill(forwarder, SIGKILL);
  wait_process(forwarder);
  const std::uint64_t at_kill = size_or_zero(part);
  forwarder = spawn_process(forward, forward_log);
  std::uint64_t lowest = at_kill;
  while (::waitpid(forwarder, nullptr, WNOHANG) == 0 && fs::exists(part)) {
    lowest = std::min(lowest, size_or_zero(part));
    forwarder_peak = std::max(forwarder_peak, peak_rss_mib(forwarder));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(lowest + (1u << 20), at_kill) << "the restarted forwarder started the file over";
  EXPECT_EQ(wait_process(forwarder), 0) << read_file(forward_log);
  central_peak = std::max(central_peak, peak_rss_mib(central.pid));
  EXPECT_EQ(central.stop(), 0) << read_file(central.log);

  const auto [want, want_lines] = query_digest(dir / "local");
  const auto [got, got_lines] = query_digest(central.data);
  EXPECT_GT(want_lines, size / 10);
  EXPECT_EQ(got_lines, want_lines);
  EXPECT_EQ(got, want) << "the central's query differs from a local ingest";
  // Neither side holds the file: the forwarder one range, the central its pipeline's batches.
  // (Not under ASan: its shadow memory and quarantine put the forwarder alone over 100 MiB.)
  if (!kSanitized) {
    EXPECT_LT(forwarder_peak, 64u) << "MiB";
    EXPECT_LT(central_peak * (1ull << 20), std::max<std::uint64_t>(size, 512ull << 20)) << "MiB";
  }
  std::printf("file %llu MB: forwarder peak %llu MiB, central peak %llu MiB\n",
              static_cast<unsigned long long>(size >> 20),
              static_cast<unsigned long long>(forwarder_peak),
              static_cast<unsigned long long>(central_peak));
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
