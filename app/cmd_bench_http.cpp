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
#include "app/commands.hpp"
#include "app/forwarder.hpp"
#include "app/generator_args.hpp"
#include "protocol/ndjson_lines.hpp"
#include "protocol/nem12_generator.hpp"
#include "protocol/nem12_reader.hpp"

extern char** environ;

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

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// utime + stime of a child, from /proc (seconds).
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) {
      stime = std::stoull(f);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// This process (the forwarding client): user + system seconds of all its threads.
double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

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

  // The central daemon: this binary, `serve`, HTTP on a free loopback port.
  char self[4096];
  auto n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 2;
  self[n] = 0;
  std::vector<std::string> args = {self,          "serve",
                                   "--data-dir",  (dir / "data").string(),
                                   "--spool-dir", (dir / "spool").string(),
                                   "--set",       "http_listen=127.0.0.1:0",
                                   "--set",       "watch_poll_ms=10",
                                   "--set",       "flush_interval_ms=100"};
  for (const auto& s : settings) args.insert(args.end(), {"--set", s});
  const auto log = dir / "serve.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> argvv;
  for (auto& a : args) argvv.push_back(a.data());
  argvv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, self, &actions, nullptr, argvv.data(), environ) != 0) return 2;
  posix_spawn_file_actions_destroy(&actions);
  int port = 0;
  for (int i = 0; i < 3000 && port == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto text = read_text(log);
    if (auto at = text.find("\"http_listening\""); at != std::string::npos) {
      auto p = text.find("\"port\":", at);
      if (p != std::string::npos) port = std::stoi(text.substr(p + 7));
    }
  }
  int rc = 0;
  if (port == 0) {
    std::fprintf(stderr, "meterd bench http: the central daemon did not start:\n%s",
                 read_text(log).c_str());
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
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!keep) fs::remove_all(dir);
  return rc;
}

}  // namespace meterd::app
