#include "app/bench_daemon.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace meterd::app {

std::optional<ChildDaemon> start_child_daemon(const std::filesystem::path& dir,
                                              const std::vector<std::string>& settings) {
  char self[4096];
  const auto n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return std::nullopt;
  self[n] = 0;
  std::vector<std::string> args = {self,          "serve",
                                   "--data-dir",  (dir / "data").string(),
                                   "--spool-dir", (dir / "spool").string()};
  for (const auto& s : settings) args.insert(args.end(), {"--set", s});
  ChildDaemon d;
  d.log = dir / "serve.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, d.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int spawned = posix_spawn(&d.pid, self, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return std::nullopt;
  for (int i = 0; i < 3000 && d.port == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto text = read_text(d.log);
    if (auto at = text.find("\"http_listening\""); at != std::string::npos) {
      auto p = text.find("\"port\":", at);
      if (p != std::string::npos) d.port = std::stoi(text.substr(p + 7));
    }
  }
  if (d.port == 0) {
    std::fprintf(stderr, "meterd bench: the daemon did not start:\n%s", read_text(d.log).c_str());
    ::kill(d.pid, SIGKILL);
    ::waitpid(d.pid, nullptr, 0);
    return std::nullopt;
  }
  return d;
}

int stop_child_daemon(const ChildDaemon& daemon) {
  ::kill(daemon.pid, SIGTERM);
  int status = 0;
  ::waitpid(daemon.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string read_text(const std::filesystem::path& p) {
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

}  // namespace meterd::app
