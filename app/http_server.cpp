#include "app/http_server.hpp"

#include <thread>
#include <vector>

#include "actors/log.hpp"
#include "app/http_session.hpp"

namespace meterd::app {

using http_internal::PlainStream;
using http_internal::Session;
using http_internal::Shared;
using http_internal::TlsStream;
namespace beast = http_internal::beast;
namespace net = http_internal::net;
using tcp = http_internal::tcp;

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
          std::make_shared<Session<PlainStream>>(*shared, std::move(s))->run();
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
  if (impl_->shared) impl_->shared->blocking.join();  // what was queued there is done
}

std::unique_ptr<HttpFront> HttpFront::start(const actors::Config& config, SpoolIntake& spool,
                                            const actors::Metrics& metrics,
                                            storage::AuditLog* audit, Reload reload) {
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
  impl.shared = std::make_unique<Shared>(config, *impl.intake, metrics, audit);
  impl.shared->reload = std::move(reload);
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
