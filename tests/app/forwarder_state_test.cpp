// The forwarder's state file (app/forwarder_state.hpp): a RecordLog of acknowledged request
// hashes that survives a reopen and a torn last record; a relative path works; a state file
// written by a forwarder before the RecordLog (bare "<sha256> <name>" lines) is converted once
// on open and keeps every hash, so that `meterd forward` against a real central still skips
// what that file lists and sends only the rest.
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "app/forwarder_state.hpp"
#include "protocol/sha256.hpp"
#include "storage/record_log.hpp"
#include "tests/app/http_daemon.hpp"

namespace meterd::test {
namespace {

namespace fs = std::filesystem;
using app::ForwarderState;

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.hex_digest();
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

TEST(ForwarderStateTest, RecordsSurviveAReopenAndATornLastRecordIsCut) {
  auto dir = make_temp_dir("meterd-forwarder-state");
  const auto path = dir / "sub" / "forward.state";  // the directory is made too
  const auto a = sha256_hex("a"), b = sha256_hex("b"), c = sha256_hex("c");
  {
    ForwarderState state(path);
    EXPECT_FALSE(state.converted());
    EXPECT_FALSE(state.contains(a));
    state.record(a, "/edge/a.ndjson#0");
    state.record(b, "/edge/b.csv");
    EXPECT_TRUE(state.contains(a));
  }
  {
    std::ofstream torn(path, std::ios::binary | std::ios::app);
    torn << "1234abcd " << c;  // a crash in the middle of the next append
  }
  ForwarderState state(path);
  EXPECT_FALSE(state.converted());
  EXPECT_TRUE(state.contains(a));
  EXPECT_TRUE(state.contains(b));
  EXPECT_FALSE(state.contains(c));
  storage::RecordLog log(path, /*writable=*/false);
  EXPECT_EQ(log.records(), (std::vector<std::string>{a + " /edge/a.ndjson#0", b + " /edge/b.csv"}));
  EXPECT_EQ(log.bad_records(), 0u);
  fs::remove_all(dir);
}

TEST(ForwarderStateTest, ABareFileNameIsStateInTheWorkingDirectory) {
  auto dir = make_temp_dir("meterd-forwarder-state");
  const auto cwd = fs::current_path();
  fs::current_path(dir);
  struct Back {
    fs::path to;
    ~Back() { fs::current_path(to); }
  } back{cwd};
  const auto hash = sha256_hex("x");
  {
    ForwarderState state("meterd-forward.state");  // the default of --state
    state.record(hash, "x");
  }
  EXPECT_TRUE(ForwarderState(dir / "meterd-forward.state").contains(hash));
  fs::current_path(cwd);
  fs::remove_all(dir);
}

// Keys of request bodies and of uploads come back after a reopen, and a state written only with
// them does not make the forwarder hash bodies with SHA-256 for keys of older forwarders.
TEST(ForwarderStateTest, KeysOfRequestsAndUploadsComeBackAfterAReopen) {
  auto dir = make_temp_dir("meterd-forwarder-state");
  const auto path = dir / "forward.state";
  const auto request = ForwarderState::request_key("{\"nmi\":\"A\"}\n");
  const auto upload = ForwarderState::upload_key(sha256_hex("f"));
  EXPECT_EQ(request.rfind("xxh128:", 0), 0u);
  EXPECT_EQ(request.size(), 7u + 32u);
  EXPECT_NE(request, ForwarderState::request_key("{\"nmi\":\"B\"}\n"));
  {
    ForwarderState state(path);
    state.record(request, "/edge/a.ndjson#0");
    state.record(upload, "/edge/f.csv");
  }
  ForwarderState state(path);
  EXPECT_FALSE(state.converted());
  EXPECT_FALSE(state.has_bare_sha256_keys());
  EXPECT_TRUE(state.contains(request));
  EXPECT_TRUE(state.contains(upload));
  EXPECT_FALSE(state.contains(sha256_hex("f")));
  EXPECT_FALSE(state.contains(request.substr(0, 20)));
  fs::remove_all(dir);
}

TEST(ForwarderStateTest, AnOldFormatFileIsConvertedOnceAndKeepsItsHashes) {
  auto dir = make_temp_dir("meterd-forwarder-state");
  const auto path = dir / "forward.state";
  const auto a = sha256_hex("a"), b = sha256_hex("b"), c = sha256_hex("c");
  // As the old forwarder left it: a torn last line still counts when it holds a whole hash;
  // one too short for a hash does not.
  write(path, a + " /edge/a.ndjson#0\n" + b + " /edge/b.csv\n" + c + " /edge/c.nd" + "\n" +
                  sha256_hex("d").substr(0, 20));
  {
    ForwarderState state(path);
    EXPECT_TRUE(state.converted());
    EXPECT_TRUE(state.has_bare_sha256_keys());
    EXPECT_TRUE(state.contains(a));
    EXPECT_TRUE(state.contains(b));
    EXPECT_TRUE(state.contains(c));
    EXPECT_FALSE(state.contains(sha256_hex("d")));
    state.record(sha256_hex("e"), "/edge/e.csv");
  }
  storage::RecordLog log(path, /*writable=*/false);
  EXPECT_EQ(log.bad_records(), 0u);
  EXPECT_EQ(log.records(),
            (std::vector<std::string>{a + " /edge/a.ndjson#0", b + " /edge/b.csv",
                                      c + " /edge/c.nd", sha256_hex("e") + " /edge/e.csv"}));
  ForwarderState again(path);
  EXPECT_FALSE(again.converted());
  EXPECT_TRUE(again.contains(a));
  EXPECT_TRUE(again.contains(sha256_hex("e")));
  fs::remove_all(dir);
}

// 48 half-hourly readings of one NMI, as one NDJSON file (one request at the default size).
std::string day_of_readings(const std::string& nmi) {
  std::string out;
  for (int i = 0; i < 48; ++i) {
    char line[256];
    std::snprintf(line, sizeof line,
                  R"({"nmi":"%s","suffix":"E1","interval_start":"2024-03-01T%02d:%02d:00+10:00",)"
                  R"("interval_minutes":30,"value":%d.5,"uom":"kWh","quality":"A"})"
                  "\n",
                  nmi.c_str(), i / 2, i % 2 * 30, i);
    out += line;
  }
  return out;
}

TEST(ForwarderStateTest, ForwardSkipsWhatAnOldFormatStateFileListsAndSendsTheRest) {
  auto dir = make_temp_dir("meterd-forwarder-state-e2e");
  const auto edge = dir / "edge";
  fs::create_directories(edge);
  const auto sent_before = day_of_readings("OLDSTATE01"), new_file = day_of_readings("OLDSTATE02");
  write(edge / "a-sent-before.ndjson", sent_before);
  write(edge / "b-new.ndjson", new_file);
  const auto state = dir / "forward.state";
  write(state, sha256_hex(sent_before) + " " + (edge / "a-sent-before.ndjson").string() + "#0\n");

  HttpDaemon central(dir / "central");
  ASSERT_TRUE(central.start()) << read_file(central.log);
  const std::vector<std::string> args = {meterd_binary().string(),
                                         "forward",
                                         "--to",
                                         "http://127.0.0.1:" + std::to_string(central.port),
                                         "--state",
                                         state.string(),
                                         edge.string()};
  ASSERT_EQ(run_to_file(args, dir / "forward.out", dir / "forward.log"), 0)
      << read_file(dir / "forward.log");
  const auto first = read_file(dir / "forward.log");
  EXPECT_NE(first.find("2 requests (1 acknowledged, 1 already acknowledged earlier"),
            std::string::npos)
      << first;
  auto q = central.get("/v1/readings?format=csv");
  ASSERT_EQ(q.status, 200) << q.body;
  EXPECT_EQ(q.body.find("OLDSTATE01"), std::string::npos) << "a listed request was sent again";
  EXPECT_NE(q.body.find("OLDSTATE02"), std::string::npos) << q.body;

  // The converted file goes on working: nothing is left to send.
  ASSERT_EQ(run_to_file(args, dir / "again.out", dir / "again.log"), 0)
      << read_file(dir / "again.log");
  const auto again = read_file(dir / "again.log");
  EXPECT_NE(again.find("(0 acknowledged, 2 already acknowledged earlier"), std::string::npos)
      << again;
  EXPECT_EQ(storage::RecordLog(state, false).records().size(), 2u);
  EXPECT_EQ(central.stop(), 0) << read_file(central.log);
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
