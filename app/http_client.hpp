// A small blocking HTTP/1.1 client (Boost.Beast) for `meterd forward` and `meterd bench`: one
// keep-alive connection, reconnected when it breaks, every step bounded by a timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace meterd::app {

struct HttpUrl {
  std::string host;
  std::uint16_t port = 80;
  bool tls = false;
};
// "http://host:port" (a path after it is ignored). Throws std::invalid_argument.
HttpUrl parse_http_url(const std::string& url);

struct HttpAnswer {
  int status = 0;     // 0: no answer (connect/read failed or timed out; see error)
  std::string error;  // transport error
  std::string body;
  double retry_after_s = -1;  // Retry-After, when given
};

class HttpClient {
 public:
  // `ca_file`: PEM CA certificates to verify an https server (empty: the system's).
  HttpClient(HttpUrl url, std::string token, std::chrono::milliseconds timeout,
             const std::string& ca_file = {});
  ~HttpClient();
  HttpAnswer post(const std::string& target, std::string_view body);
  HttpAnswer get(const std::string& target);

 private:
  HttpAnswer request(bool post, const std::string& target, std::string_view body);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meterd::app
