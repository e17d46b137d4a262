// meterd bench http [--nmis N] [--days D] [--interval M] [--batch-bytes B] [--parallel P]
//                   [--form full|lean|compact] [--set KEY=VALUE]... [--dir DIR] [--keep]
//
// Forwarded readings over loopback: generates NEM12 data, turns it into NDJSON (by default one
// reading per line with every stored field; not timed), starts a central `meterd serve` with the
// HTTP API (this binary, a child process) and forwards the NDJSON with `meterd forward`'s engine in
// batched requests. Prints readings/s and MB/s from the first request to the last durable
// acknowledgement, p50/p99 acknowledgement latency, and the central's CPU time.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/arg_reader.hpp"
#include "app/bench_daemon.hpp"
#include "app/commands.hpp"
#include "app/forwarder.hpp"
#include "app/generator_args.hpp"
#include "protocol/ndjson_lines.hpp"
#include "protocol/nem12_generator.hpp"
#include "protocol/nem12_reader.hpp"

namespace meterd::app {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: meterd bench http [--nmis N] [--days D] [--interval 5|15|30] [--batch-bytes B]\n"
    "                         [--parallel P] [--form full|lean|compact] [--set KEY=VALUE]...\n"
    "                         [--dir DIR] [--keep]\n"
    "  Forwards generated NDJSON readings to a central `meterd serve` over loopback HTTP and\n"
    "  prints readings/s to durable acknowledgement and p50/p99 acknowledgement latency.\n"
    "  Defaults: 200 NMIs x 60 days x 30 min x 2 streams (1.15 M readings), 8 MiB requests,\n"
    "  4 in flight. --set passes options to the central daemon. --form: full (default) is one\n"
    "  reading per line with every field, as `meterd query --format json` prints it; lean\n"
    "  leaves out null and empty optional fields; compact sends one line per run of\n"
    "  consecutive intervals (\"values\": [...]). --compact = --form compact.\n";

// NEM12 -> NDJSON lines of one form, written to a file as they come.
class JsonSink final : public ReadingSink {
 public:
  JsonSink(std::ofstream& out, NdjsonForm form) : out_(out), form_(form) {}
  void on_readings(ReadingBatch& batch) override {
    buffer_.clear();
    append_ndjson(buffer_, batch, form_);
    out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    readings += batch.readings();
  }
  std::uint64_t readings = 0;

 private:
  std::ofstream& out_;
  NdjsonForm form_;
  std::string buffer_;
};

}  // namespace

int run_bench_http(int argc, char** argv) {
  GeneratorOptions gen;
  gen.nmis = 200;
  gen.days = 60;
  ForwardOptions fwd;
  fwd.quiet = true;
  std::vector<std::string> settings;
  fs::path dir;
  bool keep = false;
  auto form = NdjsonForm::full;
  try {
    for (ArgReader args(argc, argv); args.next();) {
      if (args.is("--help") || args.is("-h")) {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (read_generator_option(args, gen)) {
      } else if (args.is("--batch-bytes")) {
        fwd.batch_bytes = args.number<std::size_t>(1);
      } else if (args.is("--parallel")) {
        fwd.parallel = args.number<unsigned>(1, 64);
      } else if (args.is("--set")) {
        const auto [key, value] = args.key_value();
        settings.push_back(key + "=" + value);
      } else if (args.is("--dir")) {
        dir = args.value();
      } else if (args.is("--form")) {
        form = ndjson_form_from(args.value());
      } else if (args.is("--compact")) {
        form = NdjsonForm::compact;
      } else if (args.is("--keep")) {
        keep = true;
      } else {
        args.unknown();
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd bench http: %s\n%s", e.what(), kUsage);
    return 2;
  }
  if (dir.empty())
    dir = fs::temp_directory_path() / ("meterd-bench-http-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "spool" / "incoming");

  // Data (not timed).
  const auto ndjson = dir / "readings.ndjson";
  std::uint64_t readings = 0;
  {
    std::ofstream out(ndjson, std::ios::binary);
    JsonSink sink(out, form);
    ReaderOptions options;
    Nem12Reader reader(options, sink);
    generate_nem12(gen, [&](std::string_view chunk) { reader.feed(chunk); });
    reader.finish();
    readings = sink.readings;
  }
  const auto bytes = fs::file_size(ndjson);

  std::vector<std::string> central_settings = {"http_listen=127.0.0.1:0", "watch_poll_ms=10",
                                               "flush_interval_ms=100"};
  central_settings.insert(central_settings.end(), settings.begin(), settings.end());
  const auto central = start_child_daemon(dir, central_settings);
  const pid_t pid = central ? central->pid : -1;
  const int port = central ? central->port : 0;
  int rc = 0;
  if (!central) {
    rc = 2;
  } else {
    fwd.url = "http://127.0.0.1:" + std::to_string(port);
    fwd.paths = {ndjson};
    fwd.state_file = dir / "forward.state";
    std::atomic<bool> stop{false};
    const double cpu0 = cpu_seconds(pid), client_cpu0 = own_cpu_seconds();
    auto r = run_forward(fwd, stop);
    const double cpu = cpu_seconds(pid) - cpu0, client_cpu = own_cpu_seconds() - client_cpu0;
    std::printf(
        "forwarded %llu readings (%llu generated), %.1f MB NDJSON (%.0f bytes/reading%s) in %llu "
        "requests of <= %.1f MiB, %u in flight\n",
        static_cast<unsigned long long>(r.readings), static_cast<unsigned long long>(readings),
        static_cast<double>(bytes) / 1e6,
        static_cast<double>(bytes) / static_cast<double>(readings),
        form == NdjsonForm::compact ? ", compact: a line per run"
        : form == NdjsonForm::lean  ? ", lean: a line each, no empty fields"
                                    : ", full: a line each, every field",
        static_cast<unsigned long long>(r.acknowledged),
        static_cast<double>(fwd.batch_bytes) / (1 << 20), fwd.parallel);
    std::printf("  %.2f s to the last durable acknowledgement: %.0f readings/s, %.1f MB/s\n",
                r.seconds, static_cast<double>(r.readings) / r.seconds,
                static_cast<double>(r.bytes) / 1e6 / r.seconds);
    std::printf("  acknowledgement latency p50 %.3f s, p99 %.3f s, max %.3f s\n",
                percentile(r.ack_latency_s, 0.5), percentile(r.ack_latency_s, 0.99),
                percentile(r.ack_latency_s, 1.0));
    std::printf(
        "  central CPU %.2f s (%.2f cores), client CPU %.2f s (%.2f cores), retries %llu, "
        "refused %llu\n",
        cpu, cpu / r.seconds, client_cpu, client_cpu / r.seconds,
        static_cast<unsigned long long>(r.retries), static_cast<unsigned long long>(r.failed));
    if (r.failed > 0 || r.readings != readings) rc = 1;
  }
  if (central) stop_child_daemon(*central);
  if (!keep) fs::remove_all(dir);
  return rc;
}

}  // namespace meterd::app
