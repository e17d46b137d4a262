#include "app/http_server.hpp"

#include <utility>  // before Boost 1.74's asio: its awaitable.hpp needs std::exchange

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "actors/log.hpp"
#include "app/http_auth.hpp"
#include "app/http_intake.hpp"
#include "app/http_metrics.hpp"
#include "protocol/batch_file.hpp"
#include "protocol/input_source.hpp"
#include "protocol/iso_time.hpp"
#include "protocol/ndjson_reader.hpp"
#include "protocol/reading_format.hpp"
#include "protocol/sha256.hpp"
#include "storage/store.hpp"

namespace meterd::app {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr std::size_t kMaxIssuesInResponse = 1000;
constexpr std::size_t kQueryChunkBytes = 256u << 10;

// Everything the connections share. Lives as long as the server.
struct Shared {
  actors::Config config;
  HttpIntake& intake;
  const actors::Metrics& metrics;
  HttpMetrics hm;
  TokenAuth auth;
  Shared(const actors::Config& c, HttpIntake& i, const actors::Metrics& m)
      : config(c),
        intake(i),
        metrics(m),
        auth(c.http_tokens, c.http_rate_limit_rps, c.http_rate_limit_burst) {}
};

std::string json_error(std::string_view message) {
  std::string out = "{\"error\":";
  append_json_string(out, message);
  out += "}\n";
  return out;
}

std::string issues_json(const FileReport& report) {
  std::string out = "[";
  std::size_t n = 0;
  for (const auto& issue : report.issues) {
    if (issue.severity == Severity::warning) continue;
    if (n++ == kMaxIssuesInResponse) break;
    if (n > 1) out += ',';
    out += "{\"line\":" + std::to_string(issue.line) + ",\"field\":";
    append_json_string(out, issue.field);
    out += ",\"reason\":";
    append_json_string(out, issue.reason);
    out += '}';
  }
  return out + "]";
}

// Decoding of an NDJSON body: every line decoded once, here; the batches are kept as a batch
// file (protocol/batch_file.hpp) that the pipeline reads without decoding the JSON again.
class ValidatingVisitor final : public InputVisitor, public ReadingSink {
 public:
  void on_member(const InputMember& member) override {
    finish_member();
    ReaderOptions options;
    options.name = member.name;
    reader_ = std::make_unique<NdjsonReader>(options, *this);
    first_ = true;
  }
  void on_chunk(std::string_view bytes) override {
    if (first_) {
      for (char c : bytes) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\xEF' || c == '\xBB' ||
            c == '\xBF')
          continue;
        if (c != '{') not_ndjson = true;
        first_ = false;
        break;
      }
    }
    if (!not_ndjson) reader_->feed(bytes);
  }
  void on_member_end() override { finish_member(); }
  void on_error(const std::string& member, const std::string& message) override {
    error = member + ": " + message;
  }
  // Once a line is invalid nothing is stored: the batches are only counted from then on.
  void on_readings(ReadingBatch& batch) override {
    if (rejects == 0 && (!reader_ || reader_->report().rejects() == 0)) batches.append(batch);
    batch.clear();
  }
  void finish_member() {
    if (!reader_) return;
    reader_->finish();
    const auto& r = reader_->report();
    readings += r.readings;
    rejects += r.rejects();
    source_lines += r.lines;
    source_bytes += r.bytes;
    if (issues.issues.size() < kMaxIssuesInResponse)
      for (const auto& i : r.issues)
        if (i.severity != Severity::warning) issues.add(i);
    reader_.reset();
  }

  BatchFileWriter batches;
  std::uint64_t source_lines = 0, source_bytes = 0;
  FileReport issues;  // rejects of every member
  std::uint64_t readings = 0, rejects = 0;
  bool not_ndjson = false;
  std::string error;

 private:
  std::unique_ptr<NdjsonReader> reader_;
  bool first_ = true;
};

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() + 0 && i + 2 <= s.size() - 1 + 1) {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      int hi = i + 1 < s.size() ? hex(s[i + 1]) : -1, lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        out += s[i];
      } else {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
      }
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> query_params(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto item = q.substr(0, amp);
    auto eq = item.find('=');
    out.emplace_back(url_decode(item.substr(0, eq)),
                     eq == std::string_view::npos ? "" : url_decode(item.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

// One connection. Stream is beast::tcp_stream (plain) or ssl_stream<tcp_stream> (TLS).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... StreamArgs>
  explicit Session(Shared& shared, StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...),
        sh_(shared),
        ack_timer_(stream_.get_executor()) {
    sh_.hm.connections_open.add();
    sh_.hm.connections_total.add();
  }
  ~Session() {
    if (query_job_) query_job_->cancel();
    release();
    sh_.hm.connections_open.sub();
  }

  void run() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->lowest().expires_after(
            std::chrono::milliseconds(self->sh_.config.http_request_timeout_ms));
        self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->close();
          self->read_header();
        });
      } else {
        self->read_header();
      }
    });
  }

 private:
  using Response = http::response<http::string_body>;

  void read_header() {
    parser_.emplace();
    parser_->header_limit(sh_.config.http_max_header_bytes);
    parser_->body_limit(sh_.config.http_max_body_bytes);
    answered_ = false;
    lowest().expires_after(std::chrono::milliseconds(sh_.config.http_request_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  // Most answers to a request whose body was not read close the connection: the unread body
  // would otherwise be taken for the next request.
  void on_header(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof) return close();
    if (ec == http::error::header_limit)
      return respond(http::status::request_header_fields_too_large,
                     json_error("request header larger than http_max_header_bytes"), false);
    if (ec == http::error::body_limit)  // a Content-Length over the limit: refused unread
      return respond(http::status::payload_too_large,
                     json_error("request body larger than http_max_body_bytes"), false);
    // A timeout has closed the stream already (Beast does that): nothing can be answered.
    if (ec == beast::error::timeout) return close();
    if (ec) return respond(http::status::bad_request, json_error(ec.message()), false);
    sh_.hm.requests_total.add();
    received_ = Clock::now();
    auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    const std::string_view target(req.target().data(), req.target().size());
    path_ = std::string(target.substr(0, target.find('?')));
    query_ = target.find('?') == std::string_view::npos
                 ? std::string()
                 : std::string(target.substr(target.find('?') + 1));
    if (path_ != "/healthz" && sh_.auth.enabled()) {
      auto auth = req[http::field::authorization];
      token_ = sh_.auth.authenticate(std::string_view(auth.data(), auth.size()));
      if (token_ < 0) {
        sh_.hm.unauthorized.add();
        return respond(http::status::unauthorized, json_error("missing or unknown bearer token"),
                       false, {{"WWW-Authenticate", "Bearer"}});
      }
    }
    double retry_after = 0;
    if (path_ != "/healthz" && !sh_.auth.admit(token_, retry_after)) {
      sh_.hm.rate_limited.add();
      return respond(http::status::too_many_requests,
                     json_error("rate limit of this token exceeded"), false,
                     {{"Retry-After", std::to_string(static_cast<int>(std::ceil(retry_after)))}});
    }
    ingest_ = req.method() == http::verb::post && (path_ == "/v1/readings" || path_ == "/v1/files");
    if (ingest_ && !admit()) {
      sh_.hm.overloaded.add();
      return respond(http::status::service_unavailable,
                     json_error("ingest pipeline busy: too many requests in flight or the "
                                "safety path is holding batches; retry later"),
                     false, {{"Retry-After", "1"}});
    }
    if (!ingest_) parser_->body_limit(64 * 1024);  // nothing else takes a body
    if (ingest_ && beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      return http::async_write(
          stream_, *cont,
          [self = this->shared_from_this(), cont](beast::error_code e, std::size_t) {
            if (e) return self->close();
            self->read_body();
          });
    }
    read_body();
  }

  void read_body() {
    // Beast reads no more than the buffer's free capacity (at least 512 bytes) per receive: a
    // header-sized buffer made an 8 MiB body cost ~16k recvmsg calls and as many timer resets.
    if (buffer_.capacity() < kBodyReadBytes) buffer_.reserve(kBodyReadBytes);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_body(ec);
                     });
  }

  void on_body(beast::error_code ec) {
    if (ec == http::error::body_limit)
      return respond(http::status::payload_too_large,
                     json_error("request body larger than http_max_body_bytes"), false);
    if (ec == beast::error::timeout) return close();
    if (ec == http::error::partial_message || ec == net::error::eof)
      return close();  // truncated: the client went away
    if (ec) return respond(http::status::bad_request, json_error(ec.message()), false);
    lowest().expires_never();
    try {
      route();
    } catch (const std::exception& e) {
      actors::log::error("http_error", {{"path", path_}, {"error", e.what()}});
      respond(http::status::internal_server_error, json_error(e.what()), false);
    }
  }

  void route() {
    const auto method = parser_->get().method();
    if (path_ == "/healthz" && method == http::verb::get)
      return respond(http::status::ok, "{\"status\":\"ok\"}\n", keep_alive_);
    if (path_ == "/metrics" && method == http::verb::get)
      return respond(http::status::ok, render_prometheus(sh_.metrics, sh_.hm), keep_alive_, {},
                     "text/plain; version=0.0.4; charset=utf-8");
    if (path_ == "/v1/readings" && method == http::verb::post) return ingest_readings();
    if (path_ == "/v1/files" && method == http::verb::post) return ingest_file();
    if (path_ == "/v1/readings" && method == http::verb::get) return query();
    if (path_.rfind("/v1/ingests/", 0) == 0 && method == http::verb::get)
      return ingest_status(path_.substr(12));
    if (path_ == "/healthz" || path_ == "/metrics" || path_ == "/v1/readings" ||
        path_ == "/v1/files" || path_.rfind("/v1/ingests/", 0) == 0)
      return respond(http::status::method_not_allowed, json_error("method not allowed"),
                     keep_alive_);
    respond(http::status::not_found, json_error("no such endpoint"), keep_alive_);
  }

  // ---- ingest ----

  bool admit() {
    const auto& c = sh_.config;
    // A chunked body (no Content-Length) counts as the largest allowed.
    const std::uint64_t bytes = parser_->content_length().value_or(c.http_max_body_bytes);
    if (sh_.hm.inflight_requests.get() >= c.http_max_inflight_requests ||
        sh_.hm.inflight_bytes.get() + bytes > c.http_max_inflight_bytes ||
        sh_.metrics.safety.held_now.get() > 0)
      return false;
    sh_.hm.inflight_requests.add();
    sh_.hm.inflight_bytes.add(bytes);
    admitted_bytes_ = bytes;
    admitted_ = true;
    return true;
  }

  void release() {
    if (!admitted_) return;
    admitted_ = false;
    sh_.hm.inflight_requests.sub();
    sh_.hm.inflight_bytes.sub(admitted_bytes_);
  }

  void ingest_readings() {
    auto& body = parser_->get().body();
    if (body.empty()) return reject_ingest(http::status::bad_request, json_error("empty body"));
    ValidatingVisitor v;
    InputLimits limits;
    limits.max_expanded_bytes = 16ull * sh_.config.http_max_body_bytes;
    auto res = read_input_buffer("request", body, v, limits);
    if (!res.opened || !v.error.empty())
      return reject_ingest(
          http::status::bad_request,
          json_error("cannot read the body: " + (res.opened ? v.error : res.error)));
    if (v.not_ndjson)
      return reject_ingest(http::status::unsupported_media_type,
                           json_error("expected NDJSON: one JSON object per line"));
    if (v.rejects > 0) {
      sh_.hm.invalid_lines.add(v.rejects);
      std::string out =
          "{\"error\":\"invalid lines: nothing of this request was stored\","
          "\"rejected_lines\":" +
          std::to_string(v.rejects) + ",\"valid_lines\":" + std::to_string(v.readings) +
          ",\"issues\":" + issues_json(v.issues) + "}\n";
      return reject_ingest(http::status::unprocessable_entity, std::move(out));
    }
    if (v.readings == 0) return reject_ingest(http::status::bad_request, json_error("no readings"));
    submit(".mrb", v.batches.finish(v.source_lines, v.source_bytes));
  }

  void ingest_file() {
    if (parser_->get().body().empty())
      return reject_ingest(http::status::bad_request, json_error("empty body"));
    submit(".dat", {});
  }

  void reject_ingest(http::status status, std::string body) {
    release();
    respond(status, std::move(body), keep_alive_);
  }

  // `decoded`: what the pipeline reads instead of the body, when the server decoded it already.
  void submit(std::string_view ext, std::string decoded) {
    const auto& body = parser_->get().body();
    Sha256 hash;
    hash.update(body);
    id_ = hash.hex_digest();
    sh_.hm.ingest_bytes.add(body.size());
    auto self = this->shared_from_this();
    ack_timer_.expires_after(std::chrono::milliseconds(sh_.config.http_ack_timeout_ms));
    ack_timer_.async_wait([self](beast::error_code ec) {
      if (!ec) self->on_ack_timeout();
    });
    sh_.intake.submit(id_, ext, decoded.empty() ? std::string_view(body) : decoded,
                      [self](const IngestResult& r) {
                        net::post(self->stream_.get_executor(),
                                  [self, r] { self->on_ingested(r); });
                      });
    parser_->get().body().clear();
    parser_->get().body().shrink_to_fit();  // the file is on disk now
  }

  void on_ingested(const IngestResult& r) {
    if (answered_) return;
    ack_timer_.cancel();
    release();
    std::string out = "{\"id\":\"" + r.id + "\",\"status\":\"" + to_string(r.status) +
                      "\",\"readings\":" + std::to_string(r.readings) +
                      ",\"file_sequence\":" + std::to_string(r.file_sequence);
    if (!r.report_json.empty()) out += ",\"report\":" + r.report_json;
    out += "}\n";
    switch (r.status) {
      case actors::FileStatus::durable:
      case actors::FileStatus::duplicate: {
        const auto us =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - received_);
        sh_.hm.ack_latency.observe_us(static_cast<std::uint64_t>(us.count()));
        sh_.hm.ingest_requests.add();
        sh_.hm.ingest_readings.add(r.readings);
        return respond(http::status::ok, std::move(out), keep_alive_);
      }
      case actors::FileStatus::rejected:
        return respond(http::status::unprocessable_entity, std::move(out), keep_alive_);
      case actors::FileStatus::parked:
        return respond(http::status::service_unavailable, std::move(out), false,
                       {{"Retry-After", "5"}});
      default:  // dead_letter, failed: not (all) in the store
        return respond(http::status::internal_server_error, std::move(out), keep_alive_,
                       {{"Retry-After", "30"}});
    }
  }

  void on_ack_timeout() {
    if (answered_) return;
    release();
    respond(http::status::service_unavailable,
            "{\"id\":\"" + id_ +
                "\",\"status\":\"pending\",\"error\":\"not durable within http_ack_timeout_ms; "
                "retry (harmless) or poll /v1/ingests/" +
                id_ + "\"}\n",
            false, {{"Retry-After", "5"}});
  }

  void ingest_status(const std::string& id) {
    auto r = sh_.intake.lookup(id);
    if (!r) return respond(http::status::not_found, json_error("unknown ingest id"), keep_alive_);
    if (r->pending)
      return respond(http::status::accepted, "{\"id\":\"" + id + "\",\"status\":\"pending\"}\n",
                     keep_alive_);
    if (!r->report_json.empty() && r->readings == 0 && r->file_sequence == 0)
      return respond(http::status::ok, r->report_json, keep_alive_);  // from reports/
    respond(http::status::ok,
            "{\"id\":\"" + id + "\",\"status\":\"" + to_string(r->status) +
                "\",\"readings\":" + std::to_string(r->readings) +
                ",\"file_sequence\":" + std::to_string(r->file_sequence) +
                ",\"report\":" + (r->report_json.empty() ? "null" : r->report_json) + "}\n",
            keep_alive_);
  }

  // ---- query: streamed as a chunked body, batch by batch (memory stays bounded) ----

  void query() {
    storage::QueryFilter filter;
    bool csv = false;
    for (const auto& [k, v] : query_params(query_)) {
      if (k == "nmi") {
        filter.nmi = v;
      } else if (k == "suffix") {
        filter.suffix = v;
      } else if (k == "from" || k == "to") {
        epoch_seconds t = 0;
        if (!parse_iso_time(v, t, /*nem_if_no_offset=*/true, /*allow_date=*/true))
          return respond(http::status::bad_request,
                         json_error(k + ": expected YYYY-MM-DD or an ISO-8601 time"), keep_alive_);
        (k == "from" ? filter.from : filter.to) = t;
      } else if (k == "format") {
        if (v != "csv" && v != "json")
          return respond(http::status::bad_request, json_error("format: csv or json"), keep_alive_);
        csv = v == "csv";
      } else {
        return respond(http::status::bad_request, json_error("unknown parameter " + k),
                       keep_alive_);
      }
    }
    storage::StoreOptions options;
    options.read_only = true;
    auto store = std::make_shared<storage::Store>(sh_.config.data_dir, options);
    answered_ = true;
    sh_.hm.responses_2xx.add();
    auto job = std::make_shared<QueryJob>();
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: ";
    head += csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
    head += "\r\nTransfer-Encoding: chunked\r\n";
    head += keep_alive_ ? "\r\n" : "Connection: close\r\n\r\n";
    job->frames.push_back(std::move(head));
    // A strong reference: while the session waits for the next chunk, no I/O holds it. The
    // job (and with it this reference) goes when the producer thread ends.
    job->wake = [self = this->shared_from_this()] {
      net::post(self->stream_.get_executor(), [self] { self->pump_query(); });
    };
    query_job_ = job;
    // The merge runs on a thread of its own and hands over framed chunks through a queue of
    // QueryJob::kMaxFrames: memory stays bounded, and a client that stops reading only stops
    // that thread (each chunk write has http_request_timeout_ms), never a server thread.
    std::thread([job, store, filter, csv] { run_query(*job, *store, filter, csv); }).detach();
    pump_query();
  }

  struct QueryJob {
    static constexpr std::size_t kMaxFrames = 4;
    std::mutex mutex;
    std::condition_variable room;
    std::deque<std::string> frames;
    bool done = false, cancelled = false, waiting = false, failed = false;
    std::function<void()> wake;  // the session wants the next frame (posts to its strand)

    void cancel() {
      std::lock_guard lock(mutex);
      cancelled = true;
      room.notify_all();
    }
    // Producer side; false when the session has gone.
    bool push(std::string frame) {
      std::function<void()> to_wake;
      {
        std::unique_lock lock(mutex);
        room.wait(lock, [&] { return frames.size() < kMaxFrames || cancelled; });
        if (cancelled) return false;
        frames.push_back(std::move(frame));
        if (waiting) waiting = false, to_wake = wake;
      }
      if (to_wake) to_wake();
      return true;
    }
    void finish(bool ok) {
      std::function<void()> to_wake;
      {
        std::lock_guard lock(mutex);
        done = true;
        failed = !ok;
        if (waiting) waiting = false, to_wake = wake;
      }
      if (to_wake) to_wake();
    }
  };

  static void run_query(QueryJob& job, const storage::Store& store,
                        const storage::QueryFilter& filter, bool csv) {
    struct Gone {};
    std::string chunk;
    auto frame = [&] {
      // One buffer per chunk: Beast 1.74's flat_stream (under ssl_stream) spins on a sequence
      // of two buffers.
      char size[24];
      int n = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
      std::string framed(size, static_cast<std::size_t>(n));
      framed += chunk;
      framed += "\r\n";
      chunk.clear();
      if (!job.push(std::move(framed))) throw Gone{};
    };
    try {
      if (csv) append_csv_header(chunk);
      store.query(filter, [&](const ReadingBatch& batch) {
        batch.for_each([&](const ReadingRow& row) {
          if (csv)
            append_csv_row(chunk, row);
          else
            append_json_row(chunk, row);
          if (chunk.size() >= kQueryChunkBytes) frame();
        });
      });
      if (!chunk.empty()) frame();
      if (!job.push("0\r\n\r\n")) throw Gone{};
      job.finish(true);
    } catch (const Gone&) {
    } catch (const std::exception& e) {
      actors::log::warn("http_query_aborted", {{"error", e.what()}});
      job.finish(false);
    }
  }

  // Writes the next frame of the query answer, or waits for the producer to wake us.
  void pump_query() {
    auto job = query_job_;
    if (!job) return;
    bool finished = false, failed = false;
    {
      std::lock_guard lock(job->mutex);
      if (!job->frames.empty()) {
        query_frame_ = std::move(job->frames.front());
        job->frames.pop_front();
        job->room.notify_all();
      } else if (job->done) {
        finished = true;
        failed = job->failed;
      } else {
        job->waiting = true;
        return;
      }
    }
    if (finished) {
      query_job_.reset();
      if (failed || !keep_alive_) return close();  // a failed merge: cut the chunked body
      return read_header();
    }
    lowest().expires_after(std::chrono::milliseconds(sh_.config.http_request_timeout_ms));
    net::async_write(stream_, net::buffer(query_frame_),
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) {
                         self->query_job_->cancel();
                         self->query_job_.reset();
                         return self->close();
                       }
                       self->pump_query();
                     });
  }

  // ---- responses ----

  void respond(http::status status, std::string body, bool keep_alive,
               std::initializer_list<std::pair<const char*, std::string>> headers = {},
               const char* content_type = "application/json") {
    answered_ = true;
    const unsigned code = static_cast<unsigned>(status);
    (code < 300   ? sh_.hm.responses_2xx
     : code < 500 ? sh_.hm.responses_4xx
                  : sh_.hm.responses_5xx)
        .add();
    auto res = std::make_shared<Response>(status, 11);
    res->set(http::field::server, "meterd");
    res->set(http::field::content_type, content_type);
    for (const auto& [k, v] : headers) res->set(k, v);
    res->body() = std::move(body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    actors::log::debug("http_request", {{"path", path_}, {"status", code}});
    lowest().expires_after(std::chrono::milliseconds(sh_.config.http_request_timeout_ms));
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec || !res->keep_alive()) return self->close();
                        self->read_header();
                      });
  }

  void close() {
    beast::error_code ec;
    ack_timer_.cancel();
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest().close();
  }

  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  static constexpr std::size_t kBodyReadBytes = 64 * 1024;  // Beast's largest single read
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Shared& sh_;
  net::steady_timer ack_timer_;
  std::string path_, query_, id_;
  int token_ = -1;
  bool keep_alive_ = true, ingest_ = false, admitted_ = false, answered_ = false;
  std::uint64_t admitted_bytes_ = 0;
  Clock::time_point received_{};
  std::shared_ptr<QueryJob> query_job_;  // a GET /v1/readings being streamed
  std::string query_frame_;              // the frame being written
};

}  // namespace

ListenAddress parse_listen_address(const std::string& text) {
  ListenAddress a;
  std::string port = text;
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    a.host = text.substr(0, colon);
    if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']')
      a.host = a.host.substr(1, a.host.size() - 2);
    port = text.substr(colon + 1);
  }
  unsigned long p = 0;
  try {
    std::size_t used = 0;
    p = std::stoul(port, &used);
    if (used != port.size() || p > 65535) throw std::invalid_argument("port");
  } catch (const std::exception&) {
    throw std::invalid_argument("http_listen: expected host:port or a port, got '" + text + "'");
  }
  a.port = static_cast<std::uint16_t>(p);
  if (a.host == "localhost") a.host = "127.0.0.1";
  boost::system::error_code ec;
  auto ip = net::ip::make_address(a.host, ec);
  if (ec) throw std::invalid_argument("http_listen: not an IP address: '" + a.host + "'");
  a.loopback = ip.is_loopback();
  return a;
}

struct HttpFront::Impl {
  std::unique_ptr<HttpIntake> intake;
  std::unique_ptr<Shared> shared;
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  net::steady_timer accept_retry{ioc};
  std::unique_ptr<net::ssl::context> ssl;  // set: HTTPS
  std::vector<std::thread> threads;
  std::uint16_t port = 0;

  void accept() {
    auto* ssl = this->ssl.get();
    acceptor->async_accept(net::make_strand(ioc), [this, ssl](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == net::error::operation_aborted) return;
        // Out of descriptors (EMFILE/ENFILE) fails at once: retrying at once would spin.
        accept_retry.expires_after(std::chrono::milliseconds(100));
        return accept_retry.async_wait([this](beast::error_code e) {
          if (!e) accept();
        });
      }
      auto& hm = shared->hm;
      if (hm.connections_open.get() >= shared->config.http_max_connections) {
        // Over the limit: a short answer and close, without reading the request.
        hm.connections_refused.add();
        hm.responses_5xx.add();
        static const std::string kBusy = [] {
          const std::string body = "{\"error\":\"too many connections\"}\n";
          return "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
                 "Content-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body;
        }();
        beast::error_code ignored;
        s.non_blocking(true, ignored);
        s.write_some(net::buffer(kBusy), ignored);
        s.shutdown(tcp::socket::shutdown_both, ignored);
        s.close(ignored);
      } else {
        if (ssl)
          std::make_shared<Session<TlsStream>>(*shared, std::move(s), *ssl)->run();
        else
          std::make_shared<Session<beast::tcp_stream>>(*shared, std::move(s))->run();
      }
      accept();
    });
  }
};

HttpFront::HttpFront() : impl_(std::make_unique<Impl>()) {}

HttpFront::~HttpFront() {
  if (!impl_) return;
  beast::error_code ec;
  if (impl_->acceptor) impl_->acceptor->close(ec);
  impl_->accept_retry.cancel();
  // Requests still waiting: answer 503 (their files stay in the spool for the next start).
  impl_->intake->abandon_waiters(actors::FileStatus::parked);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let those answers go out
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
}

std::unique_ptr<HttpFront> HttpFront::start(const actors::Config& config, actors::Intake& spool,
                                            const actors::Metrics& metrics) {
  if (config.http_listen.empty()) return nullptr;
  const auto address = parse_listen_address(config.http_listen);
  const bool tls = !config.http_tls_cert.empty() || !config.http_tls_key.empty();
  if (tls && (config.http_tls_cert.empty() || config.http_tls_key.empty()))
    throw std::runtime_error("TLS needs both http_tls_cert and http_tls_key");
  if (!address.loopback && !config.http_allow_insecure && (!tls || config.http_tokens.empty()))
    throw std::runtime_error("http_listen " + config.http_listen +
                             " is not a loopback address: it needs TLS (http_tls_cert, "
                             "http_tls_key) and http_tokens, or http_allow_insecure = true");
  std::unique_ptr<HttpFront> front(new HttpFront());
  auto& impl = *front->impl_;
  impl.intake = std::make_unique<HttpIntake>(spool, config.spool_dir);
  impl.shared = std::make_unique<Shared>(config, *impl.intake, metrics);
  if (tls) {
    impl.ssl = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    impl.ssl->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                          net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                          net::ssl::context::no_tlsv1_1);
    beast::error_code ec;
    impl.ssl->use_certificate_chain_file(config.http_tls_cert.string(), ec);
    if (!ec)
      impl.ssl->use_private_key_file(config.http_tls_key.string(), net::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("http_tls_cert/http_tls_key: " + ec.message());
  }
  tcp::endpoint endpoint(net::ip::make_address(address.host), address.port);
  impl.acceptor.emplace(impl.ioc);
  impl.acceptor->open(endpoint.protocol());
  impl.acceptor->set_option(net::socket_base::reuse_address(true));
  beast::error_code ec;
  impl.acceptor->bind(endpoint, ec);
  if (ec) throw std::runtime_error("http_listen " + config.http_listen + ": " + ec.message());
  impl.acceptor->listen(net::socket_base::max_listen_connections);
  impl.port = impl.acceptor->local_endpoint().port();
  impl.accept();
  for (std::uint32_t i = 0; i < std::max(1u, config.http_threads); ++i)
    impl.threads.emplace_back([&impl] { impl.ioc.run(); });
  actors::log::info("http_listening", {{"address", address.host},
                                       {"port", std::uint64_t{impl.port}},
                                       {"auth", impl.shared->auth.enabled()},
                                       {"tls", tls}});
  return front;
}

actors::Intake& HttpFront::intake() {
  return *impl_->intake;
}
std::uint16_t HttpFront::port() const {
  return impl_->port;
}

}  // namespace meterd::app
