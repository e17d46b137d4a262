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
  // PUT with one extra header (Content-Range of an upload).
  HttpAnswer put(const std::string& target, std::string_view body, const std::string& header,
                 const std::string& value);

  // Bodies above this ask "Expect: 100-continue" first: a server refusing the request (413, 507,
  // 409, ...) then answers before the body is sent, instead of closing under it.
  static constexpr std::size_t kExpectContinueBytes = 64 * 1024;

 private:
  struct Header {
    std::string name, value;
  };
  HttpAnswer request(int verb, const std::string& target, std::string_view body,
                     const Header* extra);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meterd::app
