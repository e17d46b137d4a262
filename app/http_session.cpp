#include "app/http_session.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "actors/log.hpp"
#include "app/http_query.hpp"
#include "protocol/reading_format.hpp"

namespace meterd::app::http_internal {

std::string json_error(std::string_view message) {
  std::string out = "{\"error\":";
  append_json_string(out, message);
  out += "}\n";
  return out;
}

template <class Stream>
Session<Stream>::~Session() {
  if (query_job_) query_job_->cancel();
  end_upload();
  release();
  sh_.hm.connections_open.sub();
}

template <class Stream>
void Session<Stream>::run() {
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

template <class Stream>
void Session<Stream>::read_header() {
  parser_.emplace();
  parser_->get().body().pool = &sh_.bodies;
  file_parser_.reset();
  parser_->header_limit(sh_.config.http_max_header_bytes);
  // Each request's own limit is applied once its target is known (on_header).
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // not boost::none: Boost 1.74
  // compares a Content-Length with an empty optional as over it
  answered_ = false;
  streamed_ = false;
  lowest().expires_after(std::chrono::milliseconds(sh_.config.http_request_timeout_ms));
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                            self->on_header(ec);
                          });
}

template <class Stream>
void Session<Stream>::audit_refused(int status, const std::string& reason) {
  if (!sh_.audit) return;
  std::string fields = "\"status\":" + std::to_string(status) + ",\"method\":";
  const auto method = parser_->get().method_string();
  append_json_string(fields, std::string_view(method.data(), method.size()));
  fields += ",\"path\":";
  append_json_string(fields, path_);
  beast::error_code ec;
  const auto remote = lowest().socket().remote_endpoint(ec);
  fields += ",\"remote\":";
  append_json_string(fields, ec ? std::string() : remote.address().to_string());
  if (!reason.empty()) {
    fields += ",\"reason\":";
    append_json_string(fields, reason);
  }
  if (sh_.refusals_pending.fetch_add(1) >= Shared::kMaxPendingRefusals) {
    sh_.refusals_pending.fetch_sub(1);
    sh_.refusals_unrecorded.fetch_add(1);
    return;
  }
  net::post(sh_.blocking, [&sh = sh_, token = sh_.auth.token_id(token_), fields, tenant = tenant_] {
    try {
      if (const auto n = sh.refusals_unrecorded.exchange(0))
        sh.audit->append("refused_unrecorded", "", "", "\"count\":" + std::to_string(n));
      sh.audit->append("refused", tenant, token, fields);
    } catch (const std::exception& e) {
      actors::log::error("audit_write_failed", {{"kind", "refused"}, {"error", e.what()}});
    }
    sh.refusals_pending.fetch_sub(1);
  });
}

// Most answers to a request whose body was not read close the connection: the unread body
// would otherwise be taken for the next request.
template <class Stream>
void Session<Stream>::on_header(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == net::error::eof) return close();
  if (ec == http::error::header_limit)
    return respond(http::status::request_header_fields_too_large,
                   json_error("request header larger than http_max_header_bytes"), false);
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
  const auto method = req.method();
  streamed_ = (method == http::verb::post && path_ == "/v1/files") ||
              (method == http::verb::put && path_.rfind("/v1/uploads/", 0) == 0);
  ingest_ = streamed_ || (method == http::verb::post && path_ == "/v1/readings");
  // A Content-Length over the limit is refused unread, before anything else is asked of it; a
  // chunked body when it crosses it.
  const std::uint64_t limit = path_ == "/v1/files" ? sh_.config.http_max_file_bytes
                              : ingest_            ? sh_.config.http_max_body_bytes
                                                   : 64 * 1024;  // nothing else takes a body
  if (const auto length = declared_length(); length && *length > limit)
    return respond(
        http::status::payload_too_large,
        json_error(path_ == "/v1/files" ? "file larger than http_max_file_bytes"
                                        : "request body larger than http_max_body_bytes"),
        false);
  if (path_ != "/healthz" && sh_.auth.enabled()) {
    auto auth = req[http::field::authorization];
    token_ = sh_.auth.authenticate(std::string_view(auth.data(), auth.size()));
    if (token_ < 0) {
      sh_.hm.unauthorized.add();
      audit_refused(401);
      return respond(http::status::unauthorized, json_error("missing or unknown bearer token"),
                     false, {{"WWW-Authenticate", "Bearer"}});
    }
  }
  if (path_ != "/healthz" && !authorize()) return;
  double retry_after = 0;
  if (path_ != "/healthz" && !sh_.auth.admit(token_, retry_after)) {
    sh_.hm.rate_limited.add();
    return respond(http::status::too_many_requests, json_error("rate limit of this token exceeded"),
                   false,
                   {{"Retry-After", std::to_string(static_cast<int>(std::ceil(retry_after)))}});
  }
  if (ingest_ && !admit()) {
    sh_.hm.overloaded.add();
    return respond(http::status::service_unavailable,
                   json_error("ingest pipeline busy: too many requests in flight or the "
                              "safety path is holding batches; retry later"),
                   false, {{"Retry-After", "1"}});
  }
  if (streamed_) return start_file_body();
  parser_->body_limit(limit);
  if (ingest_) return continue_then(&Session::read_body);
  read_body();
}

template <class Stream>
bool Session<Stream>::authorize() {
  actors::TokenBinding token = sh_.auth.binding(token_);
  // No tokens (a loopback listener only): whoever asks is an admin, of every tenant if any.
  if (!sh_.auth.enabled() && !sh_.config.tenants.empty()) token.tenant = "*";
  const auto method = parser_->get().method();
  const bool get = method == http::verb::get;
  std::uint8_t need = 0;  // an unknown endpoint needs nothing: it is answered 404
  if (ingest_ || path_.rfind("/v1/uploads/", 0) == 0)
    need = actors::kRoleIngest;
  else if (get && (path_ == "/v1/readings" || path_ == "/v1/register-reads" ||
                   path_ == "/v1/b2b-events" || path_.rfind("/v1/rollups/", 0) == 0))
    need = actors::kRoleQuery;
  else if (path_ == "/v1/admin/reload")
    need = actors::kRoleAdmin;
  else if (path_.rfind("/v1/ingests/", 0) == 0)
    need = actors::kRoleIngest | actors::kRoleQuery;
  else if (path_ == "/metrics" && !sh_.config.tenants.empty())
    need = actors::kRoleIngest | actors::kRoleQuery;  // a tenant's token sees its own counters
  // The tenant a request names: X-Meterd-Tenant, or tenant= in the query string.
  std::string named(parser_->get()["X-Meterd-Tenant"]);
  for (const auto& [k, v] : query_params(query_))
    if (k == "tenant") named = v;
  const bool admin = token.roles & actors::kRoleAdmin;
  auto refuse = [&](const std::string& why) {
    tenant_ = named.empty() ? token.tenant : named;
    if (tenant_ == "*") tenant_.clear();
    sh_.hm.forbidden.add();
    // Counted for the tenant whose token was refused (an admin's: the one it named).
    const std::string& counted = token.tenant == "*" ? tenant_ : token.tenant;
    if (sh_.config.tenant(counted)) sh_.metrics.tenants.of(counted).forbidden.add();
    audit_refused(403, why);
    respond(http::status::forbidden, json_error(why), false);
    return false;
  };
  if (need && !(token.roles & need) && !admin)
    return refuse("this token's roles do not allow " + path_);
  if (path_ == "/v1/admin/reload" && !sh_.config.tenants.empty() && token.tenant != "*")
    return refuse("a reload is the daemon's: an admin token of every tenant (@*/admin) only");
  if (token.tenant == "*") {  // an admin of every tenant names the one it acts on
    // ... but for /metrics: without a tenant named, an admin sees the whole daemon.
    if (named.empty() && need && !sh_.config.tenants.empty() && path_ != "/metrics" &&
        path_ != "/v1/admin/reload")
      return refuse("an admin token names its tenant (X-Meterd-Tenant or ?tenant=)");
    if (!named.empty() && !sh_.config.tenant(named)) return refuse("no tenant '" + named + "'");
    tenant_ = named;
    return true;
  }
  if (!named.empty() && named != token.tenant)
    return refuse("this token is of tenant '" + token.tenant + "', not '" + named + "'");
  tenant_ = token.tenant;
  return true;
}

// Answers "Expect: 100-continue" (the client holds the body until then), then goes on.
template <class Stream>
void Session<Stream>::continue_then(void (Session::*next)()) {
  const http::request_header<>& req = parser_ ? parser_->get().base() : file_parser_->get().base();
  if (!beast::iequals(req[http::field::expect], "100-continue")) return (this->*next)();
  auto cont =
      std::make_shared<http::response<http::empty_body>>(http::status::continue_, req.version());
  http::async_write(
      stream_, *cont,
      [self = this->shared_from_this(), cont, next](beast::error_code e, std::size_t) {
        if (e) return self->close();
        ((*self).*next)();
      });
}

// Content-Length, when given. Read as text (the parser has validated it): Beast's optional
// content_length() trips GCC 12's -Wmaybe-uninitialized under ASan, a false positive inside
// Boost.
template <class Stream>
std::optional<std::uint64_t> Session<Stream>::declared_length() {
  const http::request_header<>& req = parser_ ? parser_->get().base() : file_parser_->get().base();
  const auto text = req[http::field::content_length];
  std::uint64_t bytes = 0;
  if (text.empty() ||
      std::from_chars(text.data(), text.data() + text.size(), bytes).ec != std::errc{})
    return std::nullopt;
  return bytes;
}

template <class Stream>
void Session<Stream>::read_body() {
  // Beast reads no more than the buffer's free capacity (at least 512 bytes) per receive: a
  // header-sized buffer made an 8 MiB body cost ~16k recvmsg calls and as many timer resets.
  if (buffer_.capacity() < kBodyReadBytes) buffer_.reserve(kBodyReadBytes);
  http::async_read(
      stream_, buffer_, *parser_,
      [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
}

template <class Stream>
void Session<Stream>::on_body(beast::error_code ec) {
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

template <class Stream>
void Session<Stream>::route() {
  const auto method = parser_->get().method();
  if (path_ == "/healthz" && method == http::verb::get)
    return respond(http::status::ok, "{\"status\":\"ok\"}\n", keep_alive_);
  if (path_ == "/metrics" && method == http::verb::get)
    return respond(http::status::ok,
                   sh_.config.tenants.empty() || tenant_.empty()
                       ? render_prometheus(sh_.metrics, sh_.hm)
                       : render_tenant_prometheus(sh_.metrics, tenant_),
                   keep_alive_, {}, "text/plain; version=0.0.4; charset=utf-8");
  if (path_ == "/v1/readings" && method == http::verb::post) return ingest_readings();
  const bool record_table = path_ == "/v1/register-reads" || path_ == "/v1/b2b-events";
  if ((path_ == "/v1/readings" || record_table || path_.rfind("/v1/rollups/", 0) == 0) &&
      method == http::verb::get)
    return query();
  if (path_ == "/v1/admin/reload" && method == http::verb::post) return reload();
  if (path_.rfind("/v1/uploads/", 0) == 0 && method == http::verb::get)
    return upload_status(path_.substr(12));
  if (path_.rfind("/v1/ingests/", 0) == 0 && path_.ends_with("/events") &&
      method == http::verb::get)
    return ingest_events(path_.substr(12, path_.size() - 12 - 7));
  if (path_.rfind("/v1/ingests/", 0) == 0 && method == http::verb::get)
    return ingest_status(path_.substr(12));
  if (path_ == "/healthz" || path_ == "/metrics" || path_ == "/v1/readings" || record_table ||
      path_ == "/v1/files" || path_.rfind("/v1/ingests/", 0) == 0 ||
      path_.rfind("/v1/rollups/", 0) == 0 || path_ == "/v1/admin/reload" ||
      path_.rfind("/v1/uploads/", 0) == 0)
    return respond(http::status::method_not_allowed, json_error("method not allowed"), keep_alive_);
  respond(http::status::not_found, json_error("no such endpoint"), keep_alive_);
}

template <class Stream>
bool Session<Stream>::admit() {
  const auto& c = sh_.config;
  // A chunked body (no Content-Length) counts as the largest allowed; a body streamed to the
  // spool as the chunk it is read through.
  const std::uint64_t bytes =
      streamed_ ? kBodyReadBytes : declared_length().value_or(c.http_max_body_bytes);
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

template <class Stream>
void Session<Stream>::release() {
  if (!admitted_) return;
  admitted_ = false;
  sh_.hm.inflight_requests.sub();
  sh_.hm.inflight_bytes.sub(admitted_bytes_);
}

template <class Stream>
void Session<Stream>::respond(http::status status, std::string body, bool keep_alive,
                              std::initializer_list<std::pair<const char*, std::string>> headers,
                              const char* content_type) {
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

template <class Stream>
void Session<Stream>::close() {
  beast::error_code ec;
  ack_timer_.cancel();
  lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
  lowest().close();
}

// The members defined in this file, for both streams; http_ingest.cpp and http_query.cpp
// instantiate theirs.
template class Session<PlainStream>;
template class Session<TlsStream>;

}  // namespace meterd::app::http_internal
