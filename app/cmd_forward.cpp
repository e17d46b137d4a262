// meterd forward --to URL [--token T] [--state FILE] [--watch] PATH...
//
// The edge command: ships files (or directories of files) to a central `meterd serve` and
// returns once every one is acknowledged durable (docs/http.md).
#include <csignal>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "app/arg_reader.hpp"
#include "app/commands.hpp"
#include "app/forwarder.hpp"

namespace meterd::app {
namespace {

constexpr const char* kUsage =
    "usage: meterd forward --to URL [--token TOKEN] [--cacert PEM] [--state FILE] [--watch]\n"
    "                      [--batch-bytes N] [--parallel N] [--timeout-ms N] [--quiet] PATH...\n"
    "  Sends files to a central `meterd serve` (http:// or https://host:port; --cacert verifies\n"
    "  an https server against these CA certificates) and waits until each is\n"
    "  durable there. NDJSON files go to /v1/readings in requests of at most --batch-bytes\n"
    "  (default 8 MiB) cut at line ends; other files (NEM12/NEM13, compressed) to /v1/files,\n"
    "  or, over --batch-bytes, as a resumable upload in ranges of --batch-bytes.\n"
    "  A PATH that is a directory: every file in it (not .*, *.tmp, *.part); with --watch the\n"
    "  directories are then watched (inotify) for files closed after writing or renamed in,\n"
    "  until SIGINT/SIGTERM.\n"
    "  Retries with back-off (honouring Retry-After) until acknowledged. --state (default\n"
    "  ./meterd-forward.state) records acknowledged requests by sha256, so a restarted\n"
    "  forwarder does not send them again. The token may also come from METERD_TOKEN.\n"
    "  exit status: 0 all acknowledged (with --watch: when stopped), 1 some were refused (4xx),\n"
    "  2 usage error, 3 stopped while some of what it read was not yet acknowledged\n";

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop = true;
}

}  // namespace

int run_forward(int argc, char** argv) {
  ForwardOptions o;
  o.state_file = "meterd-forward.state";
  if (const char* t = std::getenv("METERD_TOKEN")) o.token = t;
  try {
    for (ArgReader args(argc, argv); args.next();) {
      if (args.is("--help") || args.is("-h")) {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (args.is("--to")) {
        o.url = args.value();
      } else if (args.is("--token")) {
        o.token = args.value();
      } else if (args.is("--cacert")) {
        o.ca_file = args.value();
      } else if (args.is("--state")) {
        o.state_file = args.value();
      } else if (args.is("--watch")) {
        o.watch = true;
      } else if (args.is("--batch-bytes")) {
        o.batch_bytes = args.number<std::size_t>(1);
      } else if (args.is("--parallel")) {
        o.parallel = args.number<unsigned>(1, 64);
      } else if (args.is("--timeout-ms")) {
        o.timeout = std::chrono::milliseconds(args.number<std::uint64_t>(1));
      } else if (args.is("--quiet")) {
        o.quiet = true;
      } else if (args.is_option()) {
        args.unknown();
      } else {
        o.paths.emplace_back(args.arg());
      }
    }
    if (o.url.empty()) throw std::invalid_argument("--to URL is required");
    if (o.paths.empty()) throw std::invalid_argument("no PATH to forward");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd forward: %s\n%s", e.what(), kUsage);
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    auto r = run_forward(o, g_stop);
    std::fprintf(
        stderr,
        "forwarded: %llu files, %llu requests (%llu acknowledged, %llu already "
        "acknowledged earlier, %llu refused), %llu readings, %llu retries, %.2f s\n",
        static_cast<unsigned long long>(r.files), static_cast<unsigned long long>(r.requests),
        static_cast<unsigned long long>(r.acknowledged), static_cast<unsigned long long>(r.skipped),
        static_cast<unsigned long long>(r.failed), static_cast<unsigned long long>(r.readings),
        static_cast<unsigned long long>(r.retries), r.seconds);
    if (r.interrupted) return 3;
    return r.failed > 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd forward: %s\n", e.what());
    return 2;
  }
}

}  // namespace meterd::app
