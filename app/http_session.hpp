// Inside the HTTP server (http_server.hpp): one connection, its routing and its answers.
//
//   http_server.cpp   the listener and its accept loop (HttpFront)
//   http_session.cpp  a connection: request head and body, authentication, admission, routing,
//                     answers, keep-alive
//   http_ingest.cpp   POST /v1/readings, the acknowledgement of ingests, GET /v1/ingests
//   http_files.cpp    POST /v1/files and /v1/uploads: bodies streamed to the spool
//   http_query.cpp    GET /v1/readings, streamed as a chunked body
//
// Session is a template over its stream (plain TCP or TLS). Its members are defined in the file
// of their concern, not here, so each of those files instantiates its own for both streams:
// explicitly, as nothing else could see their definitions.
#pragma once

#include <utility>  // before Boost 1.74's asio: its awaitable.hpp needs std::exchange

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "actors/config.hpp"
#include "actors/metrics.hpp"
#include "app/http_auth.hpp"
#include "app/http_body_pool.hpp"
#include "app/http_intake.hpp"
#include "app/http_metrics.hpp"
#include "app/http_uploads.hpp"
#include "protocol/ndjson_reader.hpp"
#include "storage/audit_log.hpp"

namespace meterd::app::http_internal {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

// A query string's key=value pairs, URL-decoded, in order (http_query.cpp).
std::vector<std::pair<std::string, std::string>> query_params(std::string_view query);
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// Everything the connections share. Lives as long as the server.
struct Shared {
  actors::Config config;
  HttpIntake& intake;
  const actors::Metrics& metrics;
  storage::AuditLog* audit;  // none: nothing recorded
  // POST /v1/admin/reload: re-reads the configuration; "" when applied, else why not. Called on
  // `blocking` with the asking token's id. None: not offered (404).
  std::function<std::string(const std::string& token_id)> reload;
  HttpMetrics hm;
  TokenAuth auth;
  Uploads uploads;
  BodyPool bodies{actors::defaults::http_kept_body_bytes};
  // Refusals waiting in `blocking` for the audit trail; over kMaxPendingRefusals more are
  // counted and recorded as one record with their number, so a flood of 401s costs no fsync each.
  std::atomic<std::uint32_t> refusals_pending{0};
  std::atomic<std::uint64_t> refusals_unrecorded{0};
  static constexpr std::uint32_t kMaxPendingRefusals = 256;
  // Blocking file work (fsync, hashing a whole upload, audit records of refusals) off the I/O
  // threads. Last: destroyed (joined) first.
  net::thread_pool blocking{1};
  Shared(const actors::Config& c, HttpIntake& i, const actors::Metrics& m, storage::AuditLog* a)
      : config(c),
        intake(i),
        metrics(m),
        audit(a),
        auth(c.http_tokens, c.http_rate_limit_rps, c.http_rate_limit_burst),
        uploads(c.spool_dir, kUploadExpireHours) {}
  static constexpr unsigned kUploadExpireHours = 7 * 24;
};

// {"error":"<message>"}
std::string json_error(std::string_view message);

// A request body read into a string like Beast's string_body, but appended as it comes:
// string_body resizes (zero-filling) before it copies, ~5 % of the central's CPU at 400 MB/s.
// The string comes from `pool` when one is set and a kept buffer is large enough.
struct PooledBody {
  std::string bytes;
  BodyPool* pool = nullptr;
};

struct AppendStringBody {
  using value_type = PooledBody;
  static std::uint64_t size(const value_type& body) { return body.bytes.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      ec = {};
      if (!length || *length == 0) return;
      if (*length > body_.bytes.max_size() - NdjsonReader::kPadding) {
        ec = http::error::buffer_overflow;
        return;
      }
      // With room for the padding that lets the NDJSON decoder read the body in place.
      const auto need = static_cast<std::size_t>(*length) + NdjsonReader::kPadding;
      if (body_.pool && body_.bytes.capacity() < need) {
        auto kept = body_.pool->take(need);
        if (kept.capacity() >= need) body_.bytes = std::move(kept);
      }
      body_.bytes.reserve(need);
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (const auto b : beast::buffers_range_ref(buffers)) {
        body_.bytes.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      return n;
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

class QueryJob;  // http_query.hpp

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
  ~Session();

  void run();

 private:
  using Response = http::response<http::string_body>;

  // http_session.cpp
  void read_header();
  void on_header(beast::error_code ec);
  void read_body();
  void on_body(beast::error_code ec);
  void route();
  bool admit();
  void release();
  void respond(http::status status, std::string body, bool keep_alive,
               std::initializer_list<std::pair<const char*, std::string>> headers = {},
               const char* content_type = "application/json");
  void close();
  // A 401/403 (or an ingest id of another tenant) in the audit trail, with why.
  void audit_refused(int status, const std::string& reason = {});
  // The tenant this request acts for and whether the token's roles allow it; answers 403 (and
  // audits it) when not.
  bool authorize();
  void continue_then(void (Session::*next)());
  std::optional<std::uint64_t> declared_length();

  // http_ingest.cpp
  void ingest_readings();
  void reject_ingest(http::status status, std::string body);
  void submit(std::string_view ext, std::string batch_file);
  HttpIntake::Callback wait_for_ack();  // starts the ack timer; the callback answers
  void on_ingested(const IngestResult& r);
  void on_ack_timeout();
  void ingest_status(const std::string& id);
  std::string ingest_result_json(const std::string& id, const IngestResult& r) const;

  // http_events.cpp
  void ingest_events(const std::string& id);
  std::string ingest_event();  // the event the ingest's state calls for now; "" if unknown
  void write_event(std::string text);
  void next_event();

  // http_files.cpp
  void start_file_body();
  bool start_upload_range(std::uint64_t& needed);
  void read_file_chunk();
  void on_file_chunk(beast::error_code ec);
  void file_body_done();
  void upload_range_done();
  void file_failed(const std::exception& e);
  void upload_status(const std::string& id);
  void end_upload();

  // http_admin.cpp
  void reload();

  // http_query.cpp
  void query();
  void pump_query();

  static constexpr bool kTls = !std::is_same_v<Stream, PlainStream>;
  static constexpr std::size_t kBodyReadBytes = 64 * 1024;  // Beast's largest single read
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<AppendStringBody>> parser_;
  Shared& sh_;
  net::steady_timer ack_timer_;
  std::string path_, query_, id_;
  std::string tenant_;  // whose data this request reads or writes ("" = the default tenant)
  int token_ = -1;
  bool keep_alive_ = true, ingest_ = false, admitted_ = false, answered_ = false;
  bool streamed_ = false;  // POST /v1/files, PUT /v1/uploads/<id>: the body goes to a file
  std::optional<http::request_parser<http::buffer_body>> file_parser_;
  std::unique_ptr<SpoolFile> file_;
  std::string chunk_;
  std::uint64_t next_space_check_ = 0;
  struct UploadRange {
    std::string id;   // claimed in sh_.uploads (as key) while set
    std::string key;  // the id in sh_.uploads: the tenant's
    std::uint64_t first = 0, last = 0, total = 0;
  } upload_;
  std::uint64_t admitted_bytes_ = 0;
  Clock::time_point received_{};
  std::shared_ptr<QueryJob> query_job_;    // a GET /v1/readings being streamed
  std::string query_frame_;                // the frame being written
  std::string event_frame_, events_sent_;  // GET /v1/ingests/{id}/events: writing, last sent
  Clock::time_point events_deadline_{};
};

}  // namespace meterd::app::http_internal
