// Pure pieces of the HTTP API: token hashing, constant-time lookup and rate limiting; listen
// addresses and URLs; the Prometheus rendering of histograms; the query's bounded frame queue;
// the pool of request body buffers.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "app/http_auth.hpp"
#include "app/http_body_pool.hpp"
#include "app/http_client.hpp"
#include "app/http_metrics.hpp"
#include "app/http_query.hpp"
#include "app/http_server.hpp"

namespace meterd::app {
namespace {

TEST(HttpAuthTest, TokensAreKnownByTheirHashOnly) {
  // printf %s secret | sha256sum
  EXPECT_EQ(TokenAuth::hash_token("secret"),
            "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b");
  TokenAuth auth(TokenAuth::hash_token("one") + ", " + TokenAuth::hash_token("two"), 0, 0);
  EXPECT_TRUE(auth.enabled());
  EXPECT_EQ(auth.authenticate("Bearer one"), 0);
  EXPECT_EQ(auth.authenticate("bearer two"), 1);
  EXPECT_EQ(auth.authenticate("Bearer three"), -1);
  EXPECT_EQ(auth.authenticate("Basic one"), -1);
  EXPECT_EQ(auth.authenticate(""), -1);
  EXPECT_FALSE(TokenAuth("", 0, 0).enabled());
}

TEST(HttpAuthTest, RateLimitIsATokenBucketPerToken) {
  TokenAuth auth(TokenAuth::hash_token("a") + "," + TokenAuth::hash_token("b"), 1, 3);
  double retry = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(auth.admit(0, retry)) << i;
  EXPECT_FALSE(auth.admit(0, retry));
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 1.0 + 1e-9);
  EXPECT_TRUE(auth.admit(1, retry));  // the other token has its own bucket
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(auth.admit(0, retry));  // refilled at 1/s
}

TEST(HttpAddressTest, ListenAddressesAndUrls) {
  auto a = parse_listen_address("8080");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8080);
  EXPECT_TRUE(a.loopback);
  EXPECT_FALSE(parse_listen_address("0.0.0.0:0").loopback);
  EXPECT_TRUE(parse_listen_address("[::1]:9").loopback);
  EXPECT_TRUE(parse_listen_address("localhost:1").loopback);
  EXPECT_THROW(parse_listen_address("host:x"), std::invalid_argument);
  EXPECT_THROW(parse_listen_address("example.com:80"), std::invalid_argument);

  auto u = parse_http_url("https://[::1]:8443/v1");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 8443);
  EXPECT_TRUE(u.tls);
  u = parse_http_url("http://central");
  EXPECT_EQ(u.port, 80);
  EXPECT_FALSE(u.tls);
  EXPECT_THROW(parse_http_url("ftp://x"), std::invalid_argument);
  EXPECT_THROW(parse_http_url("http://x:0"), std::invalid_argument);
}

TEST(HttpMetricsTest, HistogramBucketsAreCumulative) {
  actors::Metrics m;
  HttpMetrics h;
  h.ack_latency.observe_us(500);         // 0.0005 s
  h.ack_latency.observe_us(30'000);      // 0.03 s
  h.ack_latency.observe_us(60'000'000);  // over every bound: +Inf only
  auto text = render_prometheus(m, h);
  EXPECT_NE(text.find("meterd_http_ack_latency_seconds_bucket{le=\"0.001\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("meterd_http_ack_latency_seconds_bucket{le=\"0.05\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("meterd_http_ack_latency_seconds_bucket{le=\"30\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("meterd_http_ack_latency_seconds_bucket{le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("meterd_http_ack_latency_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE meterd_safety_queue_depth gauge\n"), std::string::npos);
}

// The producer (the store's merge) waits once kMaxFrames frames wait; the session is woken
// when it was waiting for one; a cancel frees a waiting producer.
TEST(HttpQueryJobTest, TheFrameQueueIsBoundedWakesTheSessionAndCancelFreesTheProducer) {
  using http_internal::QueryJob;
  QueryJob job;
  std::atomic<int> wakes{0};
  job.wake = [&] { ++wakes; };
  std::string frame;
  EXPECT_EQ(job.take(frame), QueryJob::Next::wait);
  std::atomic<int> pushed{0};
  std::atomic<bool> last_push_ok{true};
  std::thread producer([&] {
    for (int i = 0; i < 10; ++i) {
      if (!job.push("frame " + std::to_string(i))) {
        last_push_ok = false;
        return;
      }
      ++pushed;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(pushed.load(), static_cast<int>(QueryJob::kMaxFrames));
  EXPECT_EQ(wakes.load(), 1);  // the first frame found the session waiting
  ASSERT_EQ(job.take(frame), QueryJob::Next::frame);
  EXPECT_EQ(frame, "frame 0");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(pushed.load(), static_cast<int>(QueryJob::kMaxFrames) + 1);  // room for one more
  job.cancel();
  producer.join();
  EXPECT_FALSE(last_push_ok.load());
  EXPECT_EQ(pushed.load(), static_cast<int>(QueryJob::kMaxFrames) + 1);
}

TEST(HttpQueryJobTest, FinishedAfterTheLastFrameOrFailed) {
  using http_internal::QueryJob;
  std::string frame;
  QueryJob ok;
  ok.wake = [] {};
  ASSERT_TRUE(ok.push("last"));
  ok.finish(true);
  EXPECT_EQ(ok.take(frame), QueryJob::Next::frame);
  EXPECT_EQ(ok.take(frame), QueryJob::Next::done);
  QueryJob failed;
  int wakes = 0;
  failed.wake = [&] { ++wakes; };
  EXPECT_EQ(failed.take(frame), QueryJob::Next::wait);
  failed.finish(false);
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(failed.take(frame), QueryJob::Next::failed);
}

TEST(HttpBodyPoolTest, KeptBuffersComeBackWarmAndTheBoundHolds) {
  BodyPool pool(3u << 20);
  EXPECT_LT(pool.take(100).capacity(), 100u) << "an empty pool hands out nothing";
  std::string body(1u << 20, 'x');
  const char* const data = body.data();
  const std::size_t capacity = body.capacity();
  pool.give(std::move(body));
  EXPECT_EQ(pool.kept_bytes(), capacity);
  EXPECT_TRUE(pool.take(capacity + 1).empty()) << "too small for the request: stays kept";
  EXPECT_EQ(pool.kept_bytes(), capacity);
  std::string again = pool.take(1000);
  EXPECT_EQ(again.data(), data) << "the same buffer, not a new allocation";
  EXPECT_TRUE(again.empty());
  EXPECT_GE(again.capacity(), capacity);
  EXPECT_EQ(pool.kept_bytes(), 0u);
  // The bound: three 1 MiB buffers do not fit under 3 MiB with their slack; the third is freed.
  for (int i = 0; i < 3; ++i) pool.give(std::string((1u << 20) + 1000, 'y'));
  EXPECT_LE(pool.kept_bytes(), 3u << 20);
  EXPECT_GE(pool.kept_bytes(), 2u << 20);
}

}  // namespace
}  // namespace meterd::app
