// The HTTP soak's client threads (http_soak_test.cpp), one function per kind of client.
#pragma once

#include "tests/app/http_soak_support.hpp"

namespace meterd::test::soak {

// ---- the client threads ----

// Valid requests, each with readings of its own; every 7th sends an acknowledged body again
// (200 "duplicate", nothing new), every 10th a newer version of the previous request's readings
// (update_datetime), which the query must then return instead.
inline void ingest_client(Soak& s, int thread) {
  std::mt19937 rng(static_cast<unsigned>(thread) * 7919u + 1);
  std::optional<std::pair<Readings, std::string>> previous;  // run, body
  for (int n = 0; s.running(); ++n) {
    Readings run =
        make_run(nmi_of('V', thread, n / 64), n % 64, 1 + static_cast<int>(rng() % 48), rng);
    Kind kind = kIngest;
    if (previous && n % 10 == 9) {
      run = previous->first;
      run.update = "2024-06-01T00:00:00+10:00";
      for (auto& v : run.values) v += 0.5;
      kind = kSupersede;
    }
    const std::string body = rng() % 2 ? run.ndjson() : run.compact();
    auto r = s.send(kind, request("POST", "/v1/readings", body));
    if (r.status != 200) continue;
    const auto status = json_field(r.body, "status");
    if (status != "durable" || json_field(r.body, "readings") != std::to_string(run.values.size()))
      s.fail(std::string(kKindNames[kind]) + ": 200 but not durable with all readings: " + r.body);
    if (json_field(r.body, "id").size() != 64) s.fail("ingest: 200 without an id: " + r.body);
    s.record(run, r);
    previous.emplace(run, body);
    if (n % 7 == 6) {
      auto again = s.send(kResend, request("POST", "/v1/readings", previous->second));
      if (again.status == 200 && json_field(again.body, "status") != "duplicate")
        s.fail("resend: the same body again was not a duplicate: " + again.body);
    }
  }
}

// Bodies with invalid lines (valid readings around them): 422 with every bad line, nothing
// stored. Also a query with a bad parameter: 400.
inline void malformed_client(Soak& s) {
  std::mt19937 rng(17);
  for (int n = 0; s.running(); ++n) {
    Readings run = make_run(nmi_of('X', 0, n), n % 64, 6 + static_cast<int>(rng() % 40), rng);
    std::vector<std::string> lines;
    for (int i = 0; i < static_cast<int>(run.values.size()); ++i) lines.push_back(run.line(i));
    // Two bad lines at random places (1-based line numbers in the body).
    std::set<std::size_t> bad;
    while (bad.size() < 2) bad.insert(rng() % lines.size());
    int variant = 0;
    for (auto at : bad) {
      auto& l = lines[at];
      static const std::string kFrom[] = {"", "\"E1\"", "\"A\"", ":30,"};
      static const std::string kTo[] = {"", "7", "\"Z\"", ":31,"};
      const auto v = static_cast<std::size_t>((n + variant++) % 4);
      if (v == 0) {
        l.resize(l.size() / 2);  // malformed JSON
      } else {                   // suffix not a string; no such quality; interval_minutes 31
        const auto pos = l.find(kFrom[v]);
        l = l.substr(0, pos) + kTo[v] + l.substr(pos + kFrom[v].size());
      }
    }
    std::string body;
    for (const auto& l : lines) body += l + "\n";
    auto r = s.send(kMalformed, request("POST", "/v1/readings", body));
    if (r.status == 422) {
      if (json_field(r.body, "rejected_lines") != "2" ||
          json_field(r.body, "valid_lines") != std::to_string(lines.size() - 2))
        s.fail("malformed: wrong line counts: " + r.body);
      for (auto at : bad)
        if (r.body.find("{\"line\":" + std::to_string(at + 1) + ",\"field\":") == std::string::npos)
          s.fail("malformed: no issue for line " + std::to_string(at + 1) + ": " + r.body);
    }
    if (n % 5 == 0) s.send(kBadQuery, request("GET", "/v1/readings?from=yesterday", ""));
    std::this_thread::sleep_for(50ms);
  }
}

// Truncated bodies (Content-Length larger than what is sent, then close) and oversized bodies
// (by Content-Length, and chunked without one).
inline void truncated_and_oversized_client(Soak& s) {
  std::mt19937 rng(23);
  for (int n = 0; s.running(); ++n) {
    {  // truncated: half of a body of valid readings, then shutdown (read the answer) or close
      Readings run = make_run(nmi_of('T', 0, n), n % 64, 48, rng);
      const auto body = run.ndjson();
      std::string head = "POST /v1/readings HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth_header(kToken) +
                         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
      int fd = connect_with_timeout(s.port, 30);
      if (fd < 0) {
        s.fail("truncated: cannot connect");
      } else {
        send_all(fd, head + body.substr(0, body.size() / 2));
        if (n % 2 == 0) {
          ::shutdown(fd, SHUT_WR);
          s.check(kTruncated, parse(read_to_eof(fd)));
        } else {
          s.count(kTruncated, 0);  // an abrupt close: there is nothing to read
        }
        ::close(fd);
      }
    }
    {  // oversized by Content-Length: valid readings, over the limit; refused unread
      std::string body;
      for (int d = 0; body.size() <= static_cast<std::size_t>(kMaxBodyBytes); ++d)
        body += make_run(nmi_of('O', 0, n), d, 48, rng).ndjson();
      s.send(kOversized, request("POST", "/v1/readings", body));
      // Chunked (no Content-Length): read up to the limit, then refused.
      s.send(kOversizedChunked, [&] {
        int fd = connect_with_timeout(s.port, 60);
        if (fd < 0) return Reply{};
        std::string r = "POST /v1/readings HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                        auth_header(kToken) + "Transfer-Encoding: chunked\r\n\r\n";
        for (std::size_t at = 0; at < body.size(); at += 16384) {
          const auto piece = body.substr(at, 16384);
          char size[16];
          std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
          r += size + piece + "\r\n";
        }
        r += "0\r\n\r\n";
        send_all(fd, r);
        auto raw = read_to_eof(fd);
        ::close(fd);
        return parse(std::move(raw));
      });
    }
    std::this_thread::sleep_for(100ms);
  }
}

// Slow clients: a request trickled byte by byte, past http_request_timeout_ms. The server
// must close the connection without an answer, soon after the timeout.
inline void slow_client(Soak& s) {
  const std::string bytes = request("POST", "/v1/readings", std::string(200, ' '));
  while (s.running()) {
    int fd = connect_with_timeout(s.port, 10);
    if (fd < 0) {
      s.fail("slow: cannot connect");
      continue;
    }
    const auto t0 = SteadyClock::now();
    std::string raw;
    bool closed = false;
    for (std::size_t at = 0; !closed && SteadyClock::now() - t0 < 6s; ++at) {
      if (at < bytes.size()) ::send(fd, bytes.data() + at, 1, MSG_NOSIGNAL);
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 150) > 0) {
        raw += read_to_eof(fd);  // an answer (503) or the close
        closed = true;
      }
    }
    const auto waited = SteadyClock::now() - t0;
    ::close(fd);
    auto r = parse(raw);
    s.check(kSlow, r);
    if (!closed)
      s.fail("slow: still connected 6 s after connecting (timeout " +
             std::to_string(kRequestTimeoutMs) + " ms)");
    else if (r.status == 0 && waited < std::chrono::milliseconds(kRequestTimeoutMs - 100))
      s.fail("slow: closed before http_request_timeout_ms");
  }
}

// Missing, unknown and non-Bearer credentials on every kind of endpoint: 401, nothing stored.
inline void bad_token_client(Soak& s) {
  std::mt19937 rng(31);
  const std::string creds[] = {"", auth_header("wrong-token"), auth_header(kToken + "x"),
                               "Authorization: Basic " + kToken + "\r\n",
                               "Authorization: Bearer\r\n"};
  for (int n = 0; s.running(); ++n) {
    const auto& c = creds[static_cast<std::size_t>(n) % std::size(creds)];
    switch (n % 4) {
      case 0:
        s.send(kBadToken, request("POST", "/v1/readings",
                                  make_run(nmi_of('B', 0, n), 0, 48, rng).ndjson(), c));
        break;
      case 1:
        s.send(kBadToken, request("GET", "/metrics", "", c));
        break;
      case 2:
        s.send(kBadToken, request("GET", "/v1/readings?format=csv", "", c));
        break;
      case 3:
        s.send(kBadToken, request("POST", "/v1/files", "100,NEM12\n", c));
        break;
    }
    std::this_thread::sleep_for(40ms);
  }
}

// Bursts of twice http_max_connections connections at once, each asking /healthz.
inline void burst_client(Soak& s) {
  while (s.running()) {
    std::vector<int> fds;
    for (int i = 0; i < 2 * kMaxConnections; ++i) {
      int fd = connect_with_timeout(s.port, 30);
      if (fd < 0) {
        s.fail("burst: cannot connect");
        continue;
      }
      fds.push_back(fd);
    }
    for (int fd : fds) send_all(fd, request("GET", "/healthz", "", ""));
    for (int fd : fds) {
      s.check(kBurst, parse(read_to_eof(fd)));
      ::close(fd);
    }
    std::this_thread::sleep_for(1500ms);
  }
}

// Metrics, keep-alive health checks, queries of acknowledged readings (read your writes: a 200
// means queryable) and ingest reports with the other token (its rate limit runs dry: 429s).
inline void reader_client(Soak& s) {
  std::mt19937 rng(41);
  for (int n = 0; s.running(); ++n) {
    if (n % 10 == 0) {
      auto r = s.send(kMetrics, request("GET", "/metrics", ""));
      if (r.status == 200 && r.body.find("meterd_http_requests_total") == std::string::npos)
        s.fail("metrics: no meterd_http_requests_total");
    }
    if (n % 10 == 5) {  // three requests on one connection: three answers
      const std::string ka = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
      auto r = s.send(kKeepAlive, ka + ka + request("GET", "/healthz", "", ""));
      std::size_t answers = 0;
      for (auto at = r.raw.find("HTTP/1.1 200 "); at != std::string::npos;
           at = r.raw.find("HTTP/1.1 200 ", at + 1))
        ++answers;
      if (r.status == 200 && answers != 3)
        s.fail("keepalive: " + std::to_string(answers) + " answers to 3 requests");
    }
    if (auto a = s.some_acked(rng)) {
      auto r = s.send(kQuery, request("GET",
                                      "/v1/readings?format=json&nmi=" + a->nmi +
                                          "&from=" + a->date + "&to=" + a->date + "T23:59:59",
                                      ""));
      if (r.status == 200)
        for (const auto& key : a->keys) {
          // key: nmi|E1|interval_start
          const auto start = key.substr(key.rfind('|') + 1);
          if (r.body.find("\"interval_start\":\"" + start + "\"") == std::string::npos) {
            s.fail("query: acknowledged reading " + key +
                   " not in the answer: " + r.body.substr(0, 300));
            break;
          }
        }
    }
    std::this_thread::sleep_for(30ms);
  }
}

inline void report_client(Soak& s) {
  std::mt19937 rng(43);
  while (s.running()) {
    auto a = s.some_acked(rng);
    if (!a) {
      std::this_thread::sleep_for(50ms);
      continue;
    }
    auto r =
        s.send(kIngestReport, request("GET", "/v1/ingests/" + a->id, "", auth_header(kOtherToken)));
    if (r.status == 200 && r.body.find("durable") == std::string::npos)
      s.fail("ingest-report: not durable: " + r.body.substr(0, 300));
  }
}

}  // namespace meterd::test::soak
