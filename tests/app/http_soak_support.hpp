// The HTTP soak's client side (http_soak_test.cpp): raw requests over loopback sockets with
// timeouts, the readings the clients send, and what the soak saw of each kind of request.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include "tests/app/http_daemon.hpp"

namespace meterd::test::soak {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

inline const std::string kToken = "soak-token-a", kOtherToken = "soak-token-b";

// The daemon's limits, small so that the soak reaches every one of them.
inline constexpr int kMaxConnections = 12;
inline constexpr int kMaxBodyBytes = 256 * 1024;
inline constexpr int kRequestTimeoutMs = 1000;
inline constexpr int kMaxInflightRequests = 3;
inline constexpr int kMaxInflightBytes =
    1024 * 1024;  // four chunked bodies (counted at the body limit)
inline constexpr int kRateLimitRps = 100;

// ---- the client side: raw requests over loopback sockets, with timeouts ----

struct Reply {
  int status = 0;  // 0: no answer (closed, reset or timed out without a status line)
  std::map<std::string, std::string> headers;
  std::string body, raw;
};

inline int connect_with_timeout(int port, int recv_timeout_s) {
  int fd = connect_loopback(port);
  if (fd < 0) return -1;
  timeval tv{recv_timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

inline Reply parse(std::string raw) {
  Reply r;
  try {
    auto p = parse_reply(raw);
    r.status = p.status;
    r.headers = std::move(p.headers);
    r.body = std::move(p.body);
  } catch (const std::exception&) {
    r.status = -1;  // an answer that is not HTTP: always unexpected
  }
  r.raw = std::move(raw);
  return r;
}

// Sends `bytes` (ignoring a failed send: the server may answer and close before it read them
// all) and reads the answer to EOF.
inline Reply roundtrip(int port, const std::string& bytes, int recv_timeout_s = 60) {
  int fd = connect_with_timeout(port, recv_timeout_s);
  if (fd < 0) return {};
  send_all(fd, bytes);
  auto raw = read_to_eof(fd);
  ::close(fd);
  return parse(std::move(raw));
}

inline std::string auth_header(const std::string& token) {
  return "Authorization: Bearer " + token + "\r\n";
}

inline std::string request(const std::string& method, const std::string& target,
                           const std::string& body, const std::string& auth = auth_header(kToken)) {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  r += auth;
  if (method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

inline std::string json_field(const std::string& body, const std::string& key) {
  auto at = body.find("\"" + key + "\":");
  if (at == std::string::npos) return {};
  at += key.size() + 3;
  if (at < body.size() && body[at] == '"')
    return body.substr(at + 1, body.find('"', at + 1) - at - 1);
  return body.substr(at, body.find_first_of(",}", at) - at);
}

// ---- readings ----

// "2024-01-01" plus `days`.
inline std::string date_after(int days) {
  const std::chrono::year_month_day d{
      std::chrono::sys_days{std::chrono::year{2024} / std::chrono::January / 1} +
      std::chrono::days{days}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return buf;
}

inline std::string interval_start(const std::string& date, int interval) {  // 30-minute intervals
  char buf[40];
  std::snprintf(buf, sizeof buf, "%sT%02d:%02d:00+10:00", date.c_str(), interval / 2,
                interval % 2 * 30);
  return buf;
}

inline std::string number(double v) {  // as the server prints it (std::to_chars, shortest)
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

// One request's readings: one NMI, one NEM day, consecutive 30-minute intervals.
struct Readings {
  std::string nmi, date, update;  // update: update_datetime (the version), empty = absent
  int first = 0;
  std::vector<double> values;

  std::string key(int i) const { return nmi + "|E1|" + interval_start(date, first + i); }
  std::string line(int i) const {
    std::string s = "{\"nmi\":\"" + nmi + "\",\"suffix\":\"E1\",\"interval_start\":\"" +
                    interval_start(date, first + i) + "\",\"interval_minutes\":30,\"value\":" +
                    number(values[static_cast<std::size_t>(i)]) +
                    ",\"uom\":\"kWh\",\"quality\":\"A\"";
    if (!update.empty()) s += ",\"update_datetime\":\"" + update + "\"";
    return s + "}";
  }
  std::string compact() const {  // the same readings as one line ("values")
    std::string s = "{\"nmi\":\"" + nmi + "\",\"suffix\":\"E1\",\"interval_start\":\"" +
                    interval_start(date, first) + "\",\"interval_minutes\":30,\"values\":[";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) s += ',';
      s += number(values[i]);
    }
    s += "],\"uom\":\"kWh\",\"quality\":\"A\"";
    if (!update.empty()) s += ",\"update_datetime\":\"" + update + "\"";
    return s + "}\n";
  }
  std::string ndjson() const {
    std::string s;
    for (int i = 0; i < static_cast<int>(values.size()); ++i) s += line(i) + "\n";
    return s;
  }
};

// `n` readings (n ≤ 48) of a NMI on one day, values exact binary fractions.
inline Readings make_run(std::string nmi, int day, int n, std::mt19937& rng) {
  Readings r;
  r.nmi = std::move(nmi);
  r.date = date_after(day);
  r.first = static_cast<int>(rng() % static_cast<unsigned>(49 - n));
  for (int i = 0; i < n; ++i) r.values.push_back(static_cast<double>(rng() % 40000) / 4);
  return r;
}

// A NMI (10 characters) of a kind of request: V valid, X invalid lines, T truncated,
// O oversized, B bad token. Only V readings may ever be stored.
inline std::string nmi_of(char kind, int thread, int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%d%08d", kind, thread, n);
  return buf;
}

// ---- what the soak saw ----

enum Kind {
  kIngest,
  kResend,
  kSupersede,
  kMalformed,
  kTruncated,
  kOversized,
  kOversizedChunked,
  kSlow,
  kBadToken,
  kBurst,
  kMetrics,
  kHealthz,
  kKeepAlive,
  kQuery,
  kBadQuery,
  kIngestReport,
  kKinds
};
inline const char* const kKindNames[kKinds] = {
    "ingest",    "resend",    "supersede",         "malformed",
    "truncated", "oversized", "oversized-chunked", "slow",
    "bad-token", "burst",     "metrics",           "healthz",
    "keepalive", "query",     "bad-query",         "ingest-report"};

// Documented answers per kind (docs/http.md "Status codes"). `final_` ends the request;
// `retry` (429 and 503, always with Retry-After) makes the client send it again.
struct Expectation {
  std::set<int> final_, retry;
};
inline Expectation expected(Kind k) {
  switch (k) {
    case kIngest:
    case kResend:
    case kSupersede:
    case kMetrics:
    case kQuery:
      return {{200}, {429, 503}};
    case kIngestReport:  // of an acknowledged id: never 202, also while it is sent again
      return {{200}, {429, 503}};
    case kMalformed:
      return {{422}, {429, 503}};
    case kTruncated:  // closed without an answer, or refused before the body was read
      return {{0, 429, 503}, {}};
    case kOversized:  // refused on its Content-Length, before authentication and rate limit
      return {{413}, {503}};
    case kOversizedChunked:  // no Content-Length: admitted, read to the limit, then refused
      return {{413}, {429, 503}};
    case kSlow:  // disconnected at http_request_timeout_ms; or over http_max_connections
      return {{0, 503}, {}};
    case kBadToken:
      return {{401}, {503}};
    case kBurst:
      return {{200, 503}, {}};
    case kHealthz:
    case kKeepAlive:
      return {{200}, {503}};
    case kBadQuery:
      return {{400}, {429, 503}};
    case kKinds:
      break;
  }
  return {};
}

struct Soak {
  int port = 0;
  std::atomic<bool> stop{false};
  SteadyClock::time_point end;

  std::mutex mutex;
  std::map<int, std::uint64_t> counts[kKinds];  // by status
  std::vector<std::string> failures;
  std::uint64_t failure_count = 0;
  std::map<std::string, std::string> stored;  // key -> value: what a 200 made durable
  struct Acked {
    std::string id, nmi, date;
    std::vector<std::string> keys;
  };
  std::vector<Acked> acked;

  void fail(std::string message) {
    std::lock_guard lock(mutex);
    if (++failure_count <= 30) failures.push_back(std::move(message));
  }
  void count(Kind k, int status) {
    std::lock_guard lock(mutex);
    ++counts[k][status];
  }
  std::uint64_t total(Kind k, int status) {
    std::lock_guard lock(mutex);
    auto it = counts[k].find(status);
    return it == counts[k].end() ? 0 : it->second;
  }
  bool running() const { return !stop && SteadyClock::now() < end; }

  // Checks an answer against the documented codes of its kind; true if it is to be retried.
  bool check(Kind k, const Reply& r) {
    count(k, r.status);
    const auto e = expected(k);
    const std::string what = std::string(kKindNames[k]) + ": ";
    if (!e.final_.count(r.status) && !e.retry.count(r.status)) {
      fail(what + "undocumented answer " + std::to_string(r.status) + ": " + r.raw.substr(0, 300));
      return false;
    }
    if ((r.status == 429 || r.status == 503)) {
      const auto it = r.headers.find("retry-after");
      if (it == r.headers.end() || std::atoi(it->second.c_str()) < 1)
        fail(what + std::to_string(r.status) + " without a Retry-After: " + r.raw.substr(0, 300));
    }
    if (auto cl = r.headers.find("content-length");
        r.status > 0 && k != kKeepAlive && cl != r.headers.end() &&
        (!r.headers.count("transfer-encoding") || r.headers.at("transfer-encoding").empty()) &&
        std::to_string(r.body.size()) != cl->second) {
      fail(what + "Content-Length " + cl->second + " but a body of " +
           std::to_string(r.body.size()) + " bytes: " + r.raw.substr(0, 300));
    }
    if (r.status == 401 &&
        (!r.headers.count("www-authenticate") || r.headers.at("www-authenticate") != "Bearer"))
      fail(what + "401 without WWW-Authenticate: Bearer: " + r.raw.substr(0, 300));
    return e.retry.count(r.status) > 0;
  }

  // Sends until a final answer, sleeping Retry-After (at most 5 s) between tries; gives up
  // (a failure) after 120 s.
  Reply send(Kind k, const std::function<Reply()>& once) {
    const auto give_up = SteadyClock::now() + 120s;
    for (;;) {
      Reply r = once();
      if (!check(k, r)) return r;
      if (SteadyClock::now() > give_up) {
        fail(std::string(kKindNames[k]) + ": still " + std::to_string(r.status) + " after 120 s");
        return r;
      }
      const int after = std::clamp(std::atoi(r.headers["retry-after"].c_str()), 1, 5);
      std::this_thread::sleep_for(std::chrono::seconds(after));
    }
  }
  Reply send(Kind k, const std::string& bytes) {
    return send(k, [&] { return roundtrip(port, bytes); });
  }

  void record(const Readings& run, const Reply& r) {
    std::lock_guard lock(mutex);
    Acked a{json_field(r.body, "id"), run.nmi, run.date, {}};
    for (int i = 0; i < static_cast<int>(run.values.size()); ++i) {
      a.keys.push_back(run.key(i));
      stored[run.key(i)] = number(run.values[static_cast<std::size_t>(i)]);
    }
    acked.push_back(std::move(a));
  }
  std::optional<Acked> some_acked(std::mt19937& rng) {
    std::lock_guard lock(mutex);
    if (acked.empty()) return std::nullopt;
    return acked[rng() % acked.size()];
  }
};

}  // namespace meterd::test::soak
