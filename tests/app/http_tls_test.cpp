// TLS and the listening-address rule: HTTPS with a certificate made here, used by
// `meterd forward --cacert`; a non-loopback address without TLS and tokens is refused.
#include <gtest/gtest.h>

#include <cstdlib>

#include "protocol/nem12_generator.hpp"
#include "tests/app/http_daemon.hpp"

namespace meterd::test {
namespace {

namespace fs = std::filesystem;

TEST(HttpTlsTest, ForwarderShipsOverHttpsVerifyingTheServerCertificate) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    if (running_in_ci()) FAIL() << "openssl is required under CI=true";
    GTEST_SKIP() << "openssl command not installed";
  }
  auto dir = make_temp_dir("meterd-http-tls");
  const auto cert = dir / "cert.pem", key = dir / "key.pem";
  ASSERT_EQ(run_to_file({"/bin/sh", "-c",
                         "openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + key.string() +
                             "' -out '" + cert.string() +
                             "' -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2"},
                        dir / "openssl.out", dir / "openssl.log"),
            0)
      << read_file(dir / "openssl.log");
  HttpDaemon daemon(dir / "central");
  daemon.settings = {"http_tls_cert=" + cert.string(), "http_tls_key=" + key.string()};
  ASSERT_TRUE(daemon.start()) << read_file(daemon.log);
  EXPECT_NE(read_file(daemon.log).find("\"tls\":true"), std::string::npos);

  GeneratorOptions g;
  g.nmis = 3;
  g.days = 3;
  auto edge = dir / "edge";
  fs::create_directories(edge);
  generate_nem12_file(g, edge / "a.csv");
  const std::string url = "https://127.0.0.1:" + std::to_string(daemon.port);
  int rc = run_to_file({meterd_binary().string(), "forward", "--to", url, "--cacert", cert.string(),
                        "--state", (dir / "state").string(), edge.string()},
                       dir / "fwd.out", dir / "fwd.log");
  EXPECT_EQ(rc, 0) << read_file(dir / "fwd.log");
  EXPECT_NE(read_file(dir / "fwd.log").find("(1 acknowledged"), std::string::npos)
      << read_file(dir / "fwd.log");
  // Plain HTTP to the TLS port gets no HTTP answer.
  EXPECT_EQ(daemon.get("/healthz").status, 0);
  EXPECT_EQ(daemon.stop(), 0) << read_file(daemon.log);
  if (!std::getenv("METERD_KEEP_TEST_DIRS")) fs::remove_all(dir);
}

TEST(HttpTlsTest, NonLoopbackWithoutTlsAndTokensIsRefused) {
  auto dir = make_temp_dir("meterd-http-open");
  int rc = run_to_file({meterd_binary().string(), "serve", "--data-dir", (dir / "d").string(),
                        "--spool-dir", (dir / "s").string(), "--set", "http_listen=0.0.0.0:0"},
                       dir / "out", dir / "log");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(read_file(dir / "log").find("not a loopback address"), std::string::npos)
      << read_file(dir / "log");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace meterd::test
