// GET /v1/ingests/{id}/events over the real `meterd serve`: an upload of a few hundred MB
// followed from its first range to its report (uploading, then reading with figures that only
// grow, then the report), and a file dropped in the spool followed by its name.
#include <gtest/gtest.h>

#include <cstdlib>
#include <future>
#include <sstream>

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

struct Event {
  std::string name, data;
};

std::vector<Event> events_of(const std::string& body) {
  std::vector<Event> out;
  std::istringstream in(body);
  Event e;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("event: ", 0) == 0) e.name = line.substr(7);
    if (line.rfind("data: ", 0) == 0) e.data = line.substr(6);
    if (line.empty() && !e.name.empty()) out.push_back(std::exchange(e, {}));
  }
  return out;
}

std::uint64_t number(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return ~0ull;
  return std::stoull(json.substr(at + key.size() + 3));
}

std::string state_of(const std::string& json) {
  const auto at = json.find("\"state\":\"");
  return at == std::string::npos ? "" : json.substr(at + 9, json.find('"', at + 9) - at - 9);
}

TEST(IngestEventsTest, AnUploadIsFollowedFromItsFirstRangeToItsReport) {
  const auto dir = make_temp_dir("meterd-events");
  GeneratorOptions g;
  g.nmis = kSanitized ? 100 : 1300;  // ~24 MB under ASan, ~310 MB otherwise
  g.days = 365;
  const auto path = dir / "big.csv";
  const GeneratorStats stats = generate_nem12_file(g, path);
  const std::string text = read_file(path);
  ASSERT_EQ(text.size(), stats.bytes);
  const std::string id = Sha256::hex_of(text), total = std::to_string(text.size());
  HttpDaemon central(dir / "central");
  ASSERT_TRUE(central.start()) << read_file(central.log);
  const auto put = [&](std::size_t first, std::size_t last) {
    return http_request(central.port, "PUT", "/v1/uploads/" + id,
                        text.substr(first, last - first + 1),
                        {"Content-Range: bytes " + std::to_string(first) + "-" +
                         std::to_string(last) + "/" + total});
  };
  EXPECT_EQ(central.get("/v1/ingests/" + id + "/events").status, 404);  // nothing yet
  const std::size_t first_range = text.size() / 8;
  ASSERT_EQ(put(0, first_range - 1).status, 200);
  auto stream =
      std::async(std::launch::async, [&] { return central.get("/v1/ingests/" + id + "/events"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::size_t step = text.size() / 4;
  for (std::size_t at = first_range; at < text.size(); at += step)
    ASSERT_EQ(put(at, std::min(text.size(), at + step) - 1).status, 200);
  ASSERT_EQ(stream.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  HttpReply reply = stream.get();
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers["content-type"], "text/event-stream");
  const auto events = events_of(reply.body);
  ASSERT_GE(events.size(), 3u) << reply.body;
  EXPECT_EQ(events.front().name, "progress");
  EXPECT_EQ(state_of(events.front().data), "uploading") << events.front().data;
  EXPECT_EQ(number(events.front().data, "bytes_received"), first_range);
  EXPECT_EQ(events.back().name, "report");
  EXPECT_NE(events.back().data.find("\"status\":\"durable\""), std::string::npos);
  EXPECT_EQ(number(events.back().data, "readings"), stats.readings)
      << events.back().data.substr(0, 600);
  std::uint64_t received = 0, durable = 0, parsed = 0;
  bool reading = false;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const auto& d = events[i].data;
    EXPECT_EQ(events[i].name, "progress");
    const std::string state = state_of(d);
    EXPECT_TRUE(state == "uploading" || state == "queued" || state == "reading") << d;
    if (state == "uploading") {
      EXPECT_FALSE(reading) << "uploading after reading began: " << d;
      EXPECT_GE(number(d, "bytes_received"), received);
      received = number(d, "bytes_received");
    }
    if (state == "reading") {
      reading = true;
      EXPECT_GE(number(d, "readings_durable"), durable) << d;
      EXPECT_GE(number(d, "readings_parsed"), parsed) << d;
      EXPECT_LE(number(d, "readings_durable"), number(d, "readings_parsed")) << d;
      EXPECT_LE(number(d, "bytes_read"), text.size()) << d;
      EXPECT_EQ(number(d, "bytes"), text.size()) << d;
      durable = number(d, "readings_durable");
      parsed = number(d, "readings_parsed");
    }
  }
  EXPECT_TRUE(reading) << "no event while the file was read:\n" << reply.body.substr(0, 2000);
  EXPECT_EQ(central.stop(), 0) << read_file(central.log);
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

TEST(IngestEventsTest, AFileDroppedInTheSpoolIsFollowedByItsName) {
  const auto dir = make_temp_dir("meterd-events-spool");
  GeneratorOptions g;
  g.nmis = 20;
  g.days = 60;
  const auto path = dir / "dropped.part";
  const GeneratorStats stats = generate_nem12_file(g, path);
  HttpDaemon central(dir / "central");
  central.settings = {"settle_ms=1500"};  // time to ask before it is claimed
  ASSERT_TRUE(central.start()) << read_file(central.log);
  fs::rename(path, central.spool / "incoming" / "dropped.csv");
  const HttpReply reply = central.get("/v1/ingests/dropped.csv/events");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto events = events_of(reply.body);
  ASSERT_GE(events.size(), 2u) << reply.body;
  EXPECT_EQ(state_of(events.front().data), "queued") << events.front().data;
  EXPECT_EQ(events.back().name, "report");
  EXPECT_EQ(number(events.back().data, "readings_durable"), stats.readings) << events.back().data;
  EXPECT_EQ(central.get("/v1/ingests/..%2Fdone/events").status, 404);
  EXPECT_EQ(central.get("/v1/ingests/nothing.csv/events").status, 404);
  EXPECT_EQ(central.stop(), 0) << read_file(central.log);
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
