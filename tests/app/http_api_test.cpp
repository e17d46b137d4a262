// The HTTP API on real loopback sockets against the real `meterd serve`: NDJSON and raw files
// are acknowledged only once durable and the central query (readings, register reads, B2B
// events) equals a local ingest; a request
// with an invalid line stores nothing (all or none); abuse (bad tokens, oversized, truncated
// and malformed bodies, slow clients, too many connections, over-rate) gets clear errors while
// the daemon stays up with bounded memory; /metrics passes promtool.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "protocol/nem12_generator.hpp"
#include "tests/app/http_daemon.hpp"

namespace meterd::test {
namespace {

namespace fs = std::filesystem;

void remove_unless_kept(const fs::path& dir) {
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

// `meterd <args>` stdout as text.
std::string run_meterd(const fs::path& scratch, std::vector<std::string> args) {
  args.insert(args.begin(), meterd_binary().string());
  auto out = scratch / "out.txt";
  int rc = run_to_file(args, out, scratch / "cmd.log");
  EXPECT_LE(rc, 1) << read_file(scratch / "cmd.log");
  return read_file(out);
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string json_field(const std::string& body, const std::string& key) {
  auto at = body.find("\"" + key + "\":");
  if (at == std::string::npos) return {};
  at += key.size() + 3;
  if (body[at] == '"') return body.substr(at + 1, body.find('"', at + 1) - at - 1);
  return body.substr(at, body.find_first_of(",}", at) - at);
}

const std::string kToken = "s3cret-token", kOtherToken = "another-token";

TEST(HttpApiTest, AcknowledgedReadingsAndFilesQueryLikeALocalIngest) {
  auto dir = make_temp_dir("meterd-http-api");
  GeneratorOptions g;
  g.nmis = 20;
  g.days = 10;
  g.resent_day_fraction = 0.1;
  auto file_a = dir / "a.csv";
  generate_nem12_file(g, file_a);
  g.seed = 2;
  g.start_date = "20240301";
  auto file_b = dir / "b.csv";
  generate_nem12_file(g, file_b);

  // Local: both files ingested in place.
  run_meterd(dir,
             {"ingest", "--data-dir", (dir / "local").string(), file_a.string(), file_b.string()});
  auto want =
      sorted_lines(run_meterd(dir, {"query", "--data-dir", (dir / "local").string()}), true);
  ASSERT_GT(want.size(), 1000u);

  HttpDaemon daemon(dir / "central");
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  // a.csv as NDJSON readings in batched requests; b.csv as a raw file.
  auto lines = split_lines(run_meterd(dir, {"parse", "--format", "json", file_a.string()}));
  const std::size_t per_request = 2000;
  std::vector<std::string> ids;
  for (std::size_t at = 0; at < lines.size(); at += per_request) {
    std::string body;
    for (std::size_t i = at; i < std::min(lines.size(), at + per_request); ++i)
      body += lines[i] + "\n";
    auto r = daemon.post("/v1/readings", body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json_field(r.body, "status"), "durable") << r.body;
    ids.push_back(json_field(r.body, "id"));
    EXPECT_EQ(ids.back().size(), 64u);
  }
  auto r = daemon.post("/v1/files", read_file(file_b));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_field(r.body, "status"), "durable");

  // The same request again: acknowledged, nothing new (idempotent).
  std::string first;
  for (std::size_t i = 0; i < std::min(lines.size(), per_request); ++i) first += lines[i] + "\n";
  r = daemon.post("/v1/readings", first);
  EXPECT_EQ(r.status, 200) << r.body;

  auto q = daemon.get("/v1/readings?format=csv");
  ASSERT_EQ(q.status, 200);
  auto got = sorted_lines(q.body, true);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);
  auto q1 = daemon.get("/v1/readings?format=json&nmi=" + json_field(lines[0], "nmi") +
                       "&from=2024-01-02&to=2024-01-03");
  ASSERT_EQ(q1.status, 200);
  EXPECT_FALSE(q1.body.empty());
  for (const auto& l : split_lines(q1.body)) EXPECT_NE(l.find("\"2024-01-02T"), std::string::npos);

  auto report = daemon.get("/v1/ingests/" + ids[0]);
  EXPECT_EQ(report.status, 200) << report.body;
  EXPECT_NE(report.body.find("durable"), std::string::npos);
  EXPECT_EQ(daemon.get("/v1/ingests/" + std::string(64, '0')).status, 404);
  EXPECT_EQ(daemon.get("/healthz").status, 200);
  EXPECT_EQ(daemon.stop(), 0) << read_file(daemon.log);
  remove_unless_kept(dir);
}

// NEM13 register reads and 500 records sent as files are stored and queried centrally as a
// local ingest stores them.
TEST(HttpApiTest, RegisterReadsAndB2BEventsQueryLikeALocalIngest) {
  METERD_REQUIRE_SHARED(shared);
  auto dir = make_temp_dir("meterd-http-records");
  const fs::path samples = shared / "data/nem12/samples";
  const fs::path files[] = {samples / "nem13_multi_nmi_excel_padded.csv",
                            samples / "nem13_forward_estimate_250_550.csv",
                            samples / "spanmdp_real_365d_500_bursts.csv"};
  std::vector<std::string> ingest = {"ingest", "--data-dir", (dir / "local").string()};
  for (const auto& f : files) ingest.push_back(f.string());
  run_meterd(dir, ingest);
  HttpDaemon daemon(dir / "central");
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  for (const auto& f : files) {
    auto r = daemon.post("/v1/files", read_file(f));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json_field(r.body, "status"), "durable") << r.body;
  }
  for (const char* table : {"register-reads", "b2b-events"}) {
    SCOPED_TRACE(table);
    const auto want =
        run_meterd(dir, {"query", "--table", table, "--data-dir", (dir / "local").string()});
    ASSERT_GT(split_lines(want).size(), 10u);
    const auto got = daemon.get("/v1/" + std::string(table) + "?format=csv");
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_TRUE(got.body == want);
    EXPECT_EQ(daemon.post("/v1/" + std::string(table), "x").status, 405);
  }
  const auto one = daemon.get("/v1/register-reads?format=json&nmi=2291137510");
  ASSERT_EQ(one.status, 200);
  ASSERT_EQ(split_lines(one.body).size(), 1u) << one.body;
  EXPECT_EQ(json_field(one.body, "nmi"), "2291137510");
  EXPECT_EQ(daemon.stop(), 0) << read_file(daemon.log);
  remove_unless_kept(dir);
}

TEST(HttpApiTest, ARequestWithAnInvalidLineStoresNothing) {
  auto dir = make_temp_dir("meterd-http-none");
  HttpDaemon daemon(dir);
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  std::string good =
      R"({"nmi":"NMI0000001","suffix":"E1","interval_start":"2024-01-01T00:00:00+10:00",)"
      R"("interval_minutes":30,"value":1.25,"uom":"kWh","quality":"A"})";
  std::string body = good + "\n" + good.substr(0, good.size() - 20) + "\n";
  auto second = good;
  second.replace(second.find("00:00:00"), 8, "00:30:00");
  body += second + "\n{\"nmi\": \"NMI0000001\", \"suffix\": 7}\n";
  auto r = daemon.post("/v1/readings", body);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(json_field(r.body, "rejected_lines"), "2");
  EXPECT_NE(r.body.find("\"line\":2"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("{\"line\":4,\"field\":\"suffix\""), std::string::npos) << r.body;
  // Nothing of it, not even the valid lines 1 and 3.
  auto q = daemon.get("/v1/readings?format=csv");
  ASSERT_EQ(q.status, 200);
  EXPECT_EQ(split_lines(q.body).size(), 1u) << q.body;  // the header only
  EXPECT_EQ(count_files(daemon.spool / "incoming"), 0u);

  // The valid lines alone are stored.
  r = daemon.post("/v1/readings", good + "\n" + second + "\n");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_field(r.body, "readings"), "2");
  q = daemon.get("/v1/readings?format=csv");
  EXPECT_EQ(split_lines(q.body).size(), 3u) << q.body;
  // A gzip body is recognised by its content.
  {
    auto plain = dir / "third.ndjson";
    auto third = good;
    third.replace(third.find("00:00:00"), 8, "01:00:00");
    std::ofstream(plain) << third << "\n";
    ASSERT_EQ(run_to_file({"/bin/sh", "-c", "gzip -c '" + plain.string() + "'"}, dir / "third.gz",
                          dir / "gzip.log"),
              0);
    r = daemon.post("/v1/readings", read_file(dir / "third.gz"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json_field(r.body, "readings"), "1");
  }
  // Not NDJSON at all, an empty body, unknown endpoints and parameters.
  EXPECT_EQ(daemon.post("/v1/readings", "100,NEM12,x\n").status, 415);
  EXPECT_EQ(daemon.post("/v1/readings", "").status, 400);
  EXPECT_EQ(daemon.get("/v1/nothing").status, 404);
  EXPECT_EQ(daemon.get("/v1/readings?color=red").status, 400);
  EXPECT_EQ(daemon.stop(), 0);
  remove_unless_kept(dir);
}

TEST(HttpApiTest, AbuseGetsClearErrorsAndTheDaemonStaysUp) {
  auto dir = make_temp_dir("meterd-http-abuse");
  HttpDaemon daemon(dir);
  // Tokens by hash, as an operator would configure them.
  auto hash = [&](const std::string& token) {
    auto out = dir / "hash.txt";
    run_to_file({"/bin/sh", "-c", "printf %s '" + token + "' | sha256sum | cut -c1-64"}, out,
                dir / "hash.log");
    auto h = read_file(out);
    return "sha256:" + h.substr(0, 64);
  };
  daemon.settings = {"http_tokens=" + hash(kToken) + "," + hash(kOtherToken),
                     "http_max_body_bytes=1048576",
                     "http_request_timeout_ms=700",
                     "http_max_connections=6",
                     "http_rate_limit_rps=2",
                     "http_rate_limit_burst=20",
                     "http_max_inflight_bytes=900000"};
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  const std::vector<std::string> auth = {"Authorization: Bearer " + kToken};

  // Authentication.
  EXPECT_EQ(daemon.get("/healthz").status, 200);  // no token needed
  auto r = daemon.get("/metrics");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(daemon.get("/metrics", {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(daemon.post("/v1/readings", "{}", {"Authorization: Basic abc"}).status, 401);
  EXPECT_EQ(daemon.get("/metrics", auth).status, 200);

  // Backpressure: a body that would take the in-flight bytes over the limit is refused, unread.
  r = daemon.post("/v1/readings", std::string(950000, ' '), auth);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.headers["retry-after"], "1");

  // Bodies: malformed JSON, oversized, truncated.
  r = daemon.post("/v1/readings", "{\"nmi\": [1, \n", auth);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("malformed JSON"), std::string::npos) << r.body;
  r = daemon.post("/v1/readings", std::string(2 << 20, ' '), auth);
  EXPECT_EQ(r.status, 413) << r.body;
  {
    int fd = connect_loopback(daemon.port);
    send_all(fd, "POST /v1/readings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken +
                     "\r\nContent-Length: 100000\r\n\r\n{\"nmi\":");
    ::shutdown(fd, SHUT_WR);  // truncated: the client gives up mid-body
    read_to_eof(fd);
    ::close(fd);
  }
  // A slow client (half a header, then nothing) is disconnected at http_request_timeout_ms.
  {
    int fd = connect_loopback(daemon.port);
    send_all(fd, "GET /healthz HTTP/1.1\r\nHo");
    const auto t0 = std::chrono::steady_clock::now();
    auto reply = parse_reply(read_to_eof(fd));
    const auto waited = std::chrono::steady_clock::now() - t0;
    ::close(fd);
    EXPECT_EQ(reply.status, 0) << "closed without an answer";
    EXPECT_LT(waited, std::chrono::seconds(5));
  }
  // A client that asks for a large query answer and stops reading holds no server thread and
  // is cut off once a chunk could not be written for http_request_timeout_ms.
  {
    GeneratorOptions g;
    g.nmis = 60;
    g.days = 20;
    ASSERT_EQ(daemon.post("/v1/files", generate_nem12_string(g), auth).status, 200);
    int fd = connect_loopback(daemon.port);
    send_all(
        fd, "GET /v1/readings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken + "\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(daemon.get("/healthz").status, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    timeval five{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
    const auto t0 = std::chrono::steady_clock::now();
    const auto partial = read_to_eof(fd);  // what the socket buffers held, then the close
    ::close(fd);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
    EXPECT_GT(partial.size(), 0u);
    EXPECT_LT(partial.size(), 30u << 20) << "the ~45 MB answer was cut off, not completed";
  }
  // Too many connections: the ones over http_max_connections get 503 at once.
  {
    std::vector<int> idle;
    for (int i = 0; i < 6; ++i) idle.push_back(connect_loopback(daemon.port));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto over = daemon.get("/healthz");
    EXPECT_EQ(over.status, 503) << over.body;
    EXPECT_EQ(over.headers["retry-after"], "1");
    for (int fd : idle) ::close(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Per-token rate limit: the other token's bucket runs dry; the first token is unaffected.
  int limited = 0;
  for (int i = 0; i < 60; ++i) {
    auto x = daemon.get("/metrics", {"Authorization: Bearer " + kOtherToken});
    if (x.status == 429) {
      ++limited;
      EXPECT_FALSE(x.headers["retry-after"].empty());
    }
  }
  EXPECT_GT(limited, 10);
  EXPECT_EQ(daemon.get("/metrics", auth).status, 200);

  EXPECT_TRUE(daemon.alive());
  EXPECT_EQ(daemon.get("/healthz").status, 200);
  EXPECT_LT(daemon.rss_kib(), 400u * 1024) << "daemon RSS after the abuse";
  EXPECT_EQ(daemon.stop(), 0) << read_file(daemon.log);
  remove_unless_kept(dir);
}

TEST(HttpApiTest, MetricsPassPromtool) {
  const bool have_promtool = std::system("command -v promtool >/dev/null 2>&1") == 0;
  if (!have_promtool) {
    if (running_in_ci()) FAIL() << "promtool (Debian package prometheus) is required under CI=true";
    GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
  }
  auto dir = make_temp_dir("meterd-http-metrics");
  HttpDaemon daemon(dir);
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  GeneratorOptions g;
  g.nmis = 3;
  g.days = 3;
  ASSERT_EQ(daemon.post("/v1/files", generate_nem12_string(g)).status, 200);
  auto r = daemon.get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers["content-type"].find("text/plain"), std::string::npos);
  for (const char* name :
       {"meterd_reader_credit_stalls_total", "meterd_batcher_credit_stalls_total",
        "meterd_safety_queue_depth", "meterd_writer_latency_seconds_bucket",
        "meterd_http_ack_latency_seconds_count"})
    EXPECT_NE(r.body.find(name), std::string::npos) << name;
  auto file = dir / "metrics.txt";
  std::ofstream(file) << r.body;
  auto out = dir / "promtool.txt";
  int rc = run_to_file({"/bin/sh", "-c", "promtool check metrics < '" + file.string() + "' 2>&1"},
                       out, dir / "promtool.log");
  EXPECT_EQ(rc, 0) << read_file(out);
  EXPECT_EQ(daemon.stop(), 0);
  remove_unless_kept(dir);
}

}  // namespace
}  // namespace meterd::test
