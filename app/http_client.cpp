#include "app/http_client.hpp"

#include <utility>  // before Boost 1.74's asio: its awaitable.hpp needs std::exchange

#include <boost/asio.hpp>
#include <boost/asio/ssl/rfc2818_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <stdexcept>

namespace meterd::app {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

}  // namespace

HttpUrl parse_http_url(const std::string& url) {
  HttpUrl u;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
    u.tls = true;
    u.port = 443;
  } else {
    throw std::invalid_argument("expected http://host:port, got '" + url + "'");
  }
  rest = rest.substr(0, rest.find('/'));
  // host, host:port, [v6] or [v6]:port
  std::string port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad host in '" + url + "'");
    u.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    u.host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  } else {
    u.host = rest;
  }
  if (!port.empty()) {
    try {
      std::size_t used = 0;
      auto p = std::stoul(port, &used);
      if (used != port.size() || p == 0 || p > 65535) throw std::out_of_range("port");
      u.port = static_cast<std::uint16_t>(p);
    } catch (const std::exception&) {
      throw std::invalid_argument("bad port in '" + url + "'");
    }
  }
  if (u.host.empty()) throw std::invalid_argument("no host in '" + url + "'");
  return u;
}

struct HttpClient::Impl {
  HttpUrl url;
  std::string token;
  std::chrono::milliseconds timeout;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;  // plain
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  std::unique_ptr<net::ssl::context> ssl;  // set for https://
  beast::flat_buffer buffer;

  bool connected() const { return stream.has_value() || tls.has_value(); }
  void drop() {
    tls.reset();
    stream.reset();
  }
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *stream; }
  // Calls f with the stream in use (plain or TLS).
  template <class F>
  void with_stream(F&& f) {
    if (tls)
      f(*tls);
    else
      f(*stream);
  }

  // Runs the queued asynchronous operation to completion (the stream's expiry bounds it).
  void run() {
    ioc.restart();
    ioc.run();
  }

  bool connect(std::string& error) {
    if (connected()) return true;
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
    if (ec) {
      error = "resolve " + url.host + ": " + ec.message();
      return false;
    }
    if (ssl)
      tls.emplace(ioc, *ssl);
    else
      stream.emplace(ioc);
    lowest().expires_after(timeout);
    lowest().async_connect(results, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (!ec && tls) {
      // SNI and certificate name check against the host we were given.
      if (!SSL_set_tlsext_host_name(tls->native_handle(), url.host.c_str()))
        ec = beast::error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category());
      tls->set_verify_callback(net::ssl::rfc2818_verification(url.host));
      if (!ec) {
        tls->async_handshake(net::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
        run();
      }
    }
    if (ec) {
      error = "connect " + url.host + ":" + std::to_string(url.port) + ": " + ec.message();
      drop();
      return false;
    }
    lowest().socket().set_option(tcp::no_delay(true), ec);
    buffer.clear();
    return true;
  }
};

HttpClient::HttpClient(HttpUrl url, std::string token, std::chrono::milliseconds timeout,
                       const std::string& ca_file)
    : impl_(std::make_unique<Impl>()) {
  if (url.tls) {
    impl_->ssl = std::make_unique<net::ssl::context>(net::ssl::context::tls_client);
    impl_->ssl->set_verify_mode(net::ssl::verify_peer);
    if (ca_file.empty())
      impl_->ssl->set_default_verify_paths();
    else
      impl_->ssl->load_verify_file(ca_file);
  }
  impl_->url = std::move(url);
  impl_->token = std::move(token);
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() = default;

HttpAnswer HttpClient::post(const std::string& target, std::string_view body) {
  return request(static_cast<int>(http::verb::post), target, body, nullptr);
}
HttpAnswer HttpClient::get(const std::string& target) {
  return request(static_cast<int>(http::verb::get), target, {}, nullptr);
}
HttpAnswer HttpClient::put(const std::string& target, std::string_view body,
                           const std::string& header, const std::string& value) {
  const Header extra{header, value};
  return request(static_cast<int>(http::verb::put), target, body, &extra);
}

namespace {

void read_retry_after(const http::response<http::string_body>& res, HttpAnswer& answer) {
  if (auto ra = res.find(http::field::retry_after); ra != res.end()) {
    try {
      answer.retry_after_s = std::stod(std::string(ra->value()));
    } catch (const std::exception&) {
    }
  }
}

}  // namespace

HttpAnswer HttpClient::request(int verb_number, const std::string& target, std::string_view body,
                               const Header* extra) {
  auto& im = *impl_;
  const auto verb = static_cast<http::verb>(verb_number);
  HttpAnswer answer;
  // A kept-alive connection may have been closed by the server meanwhile: one fresh retry.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = im.connected();
    if (!im.connect(answer.error)) return answer;
    http::request<http::span_body<const char>> req{verb, target, 11};
    req.set(http::field::host, im.url.host);
    req.set(http::field::user_agent, "meterd");
    if (!im.token.empty()) req.set(http::field::authorization, "Bearer " + im.token);
    if (verb != http::verb::get) req.set(http::field::content_type, "application/octet-stream");
    if (extra) req.set(extra->name, extra->value);
    const bool expect_continue = body.size() > kExpectContinueBytes;
    if (expect_continue) req.set(http::field::expect, "100-continue");
    req.body() = {body.data(), body.size()};
    req.keep_alive(true);
    req.prepare_payload();
    http::request_serializer<http::span_body<const char>> serializer(req);
    beast::error_code ec;
    auto read = [&](http::response_parser<http::string_body>& parser) {
      parser.body_limit(64u << 20);
      im.lowest().expires_after(im.timeout);
      im.with_stream([&](auto& stream) {
        http::async_read(stream, im.buffer, parser,
                         [&](beast::error_code e, std::size_t) { ec = e; });
      });
      im.run();
    };
    auto write = [&](bool header_only) {
      im.lowest().expires_after(im.timeout);
      im.with_stream([&](auto& stream) {
        if (header_only)
          http::async_write_header(stream, serializer,
                                   [&](beast::error_code e, std::size_t) { ec = e; });
        else
          http::async_write(stream, serializer, [&](beast::error_code e, std::size_t) { ec = e; });
      });
      im.run();
    };
    std::optional<http::response_parser<http::string_body>> parser(std::in_place);
    bool body_unsent = false;
    write(expect_continue);
    if (!ec && expect_continue) {
      read(*parser);
      if (!ec && parser->get().result() == http::status::continue_) {
        parser.emplace();
        write(false);
      } else {
        body_unsent = true;  // refused on its header: the answer is in
      }
    }
    if (!ec && !body_unsent) read(*parser);
    if (ec) {
      im.drop();
      answer.error = ec.message();
      if (reused && (ec == http::error::end_of_stream || ec == net::error::eof ||
                     ec == net::error::connection_reset || ec == net::error::broken_pipe))
        continue;
      return answer;
    }
    auto& res = parser->get();
    answer.status = static_cast<int>(res.result_int());
    answer.body = std::move(res.body());
    answer.error.clear();
    read_retry_after(res, answer);
    // A body announced and not sent leaves the connection unusable for another request.
    if (!res.keep_alive() || body_unsent) im.drop();
    return answer;
  }
  return answer;
}

}  // namespace meterd::app
