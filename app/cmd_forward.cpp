// meterd forward --to URL [--token T] [--state FILE] [--watch] PATH...
//
// The edge command: ships files (or directories of files) to a central `meterd serve` and
// returns once every one is acknowledged durable (docs/http.md).
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>

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
    "  On a terminal (and not --quiet) a progress line: bytes read, bytes the central has, and\n"
    "  from its answers readings durable and rejects, refusals and retries.\n"
    "  exit status: 0 all acknowledged (with --watch: when stopped), 1 some were refused (4xx),\n"
    "  2 usage error, 3 stopped while some of what it read was not yet acknowledged\n";

// The figures of GET /v1/ingests/{id}/events as the forwarder knows them: what the central has
// taken (acknowledged, or of an upload in progress) and what its answers say was durable.
void progress_line(const ForwardProgress& p, double seconds) {
  const auto mb = [](const std::atomic<std::uint64_t>& bytes) {
    return static_cast<double>(bytes.load()) / 1e6;
  };
  std::fprintf(stderr,
               "\rforward: %llu files  read %.1f MB  central has %.1f MB  durable %llu  "
               "rejects %llu  refused %llu  retries %llu  %.1f s  ",
               static_cast<unsigned long long>(p.files.load()), mb(p.bytes_read),
               mb(p.bytes_at_central), static_cast<unsigned long long>(p.readings_durable.load()),
               static_cast<unsigned long long>(p.rejects.load()),
               static_cast<unsigned long long>(p.refused.load()),
               static_cast<unsigned long long>(p.retries.load()), seconds);
  std::fflush(stderr);
}

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
  ForwardProgress progress;
  o.progress = &progress;
  std::atomic<bool> done{false};
  std::thread printer;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  if (!o.quiet && ::isatty(STDERR_FILENO))
    printer = std::thread([&] {
      for (int tick = 0; !done.load(); ++tick) {
        if (tick % 5 == 0) progress_line(progress, elapsed());
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      progress_line(progress, elapsed());
      std::fputc('\n', stderr);
    });
  auto stop_printer = [&] {
    done = true;
    if (printer.joinable()) printer.join();
  };
  try {
    auto r = run_forward(o, g_stop);
    stop_printer();
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
    stop_printer();
    std::fprintf(stderr, "meterd forward: %s\n", e.what());
    return 2;
  }
}

}  // namespace meterd::app
