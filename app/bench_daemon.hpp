// What the benchmarks that drive a real `meterd serve` share: the daemon as a child process of
// this binary (its log in DIR/serve.log, HTTP on a free loopback port), its CPU time, and the
// percentiles they report.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace meterd::app {

struct ChildDaemon {
  pid_t pid = -1;
  int port = 0;
  std::filesystem::path log;
};

// `meterd serve` on DIR/data and DIR/spool with `settings` (KEY=VALUE, passed as --set), once
// it listens; nothing (and the log on stderr) when it did not come up.
std::optional<ChildDaemon> start_child_daemon(const std::filesystem::path& dir,
                                              const std::vector<std::string>& settings);
// SIGTERM (a drain) and its exit status.
int stop_child_daemon(const ChildDaemon& daemon);

double cpu_seconds(pid_t pid);  // utime + stime of a child, from /proc
double own_cpu_seconds();       // this process, every thread
double percentile(std::vector<double> values, double p);
std::string read_text(const std::filesystem::path& path);

}  // namespace meterd::app
