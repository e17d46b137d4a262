// A `meterd serve` with the HTTP API on a loopback port, for the API and forwarder tests:
// started from the real binary with a temp spool and data directory.
#pragma once

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/app/http_client.hpp"
#include "tests/app/subprocess.hpp"
#include "tests/test_support.hpp"

namespace meterd::test {

// A port that was free a moment ago (the daemon binds it with SO_REUSEADDR).
inline int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct HttpDaemon {
  std::filesystem::path dir, spool, data, log;
  pid_t pid = -1;
  int port = 0;                       // 0: any free port, read from the log
  std::vector<std::string> settings;  // KEY=VALUE for --set

  explicit HttpDaemon(std::filesystem::path root) : dir(std::move(root)) {
    spool = dir / "spool";
    data = dir / "data";
    log = dir / "daemon.log";
    std::filesystem::create_directories(spool / "incoming");
  }
  ~HttpDaemon() {
    if (pid > 0) kill9();
  }

  // Starts and waits until the listener is up; false if it did not come up in time.
  bool start() {
    const auto before = count("\"http_listening\"");
    std::vector<std::string> args = {meterd_binary().string(),
                                     "serve",
                                     "--data-dir",
                                     data.string(),
                                     "--spool-dir",
                                     spool.string(),
                                     "--set",
                                     "flush_interval_ms=100",
                                     "--set",
                                     "watch_poll_ms=20",
                                     "--set",
                                     "http_listen=127.0.0.1:" + std::to_string(port)};
    for (const auto& s : settings) args.insert(args.end(), {"--set", s});
    pid = spawn_process(args, log);
    if (!wait_until([&] { return count("\"http_listening\"") > before; }, std::chrono::seconds(30)))
      return false;
    if (port == 0) {
      auto text = read_file(log);
      auto at = text.rfind("\"port\":");
      port = std::stoi(text.substr(at + 7));
    }
    return true;
  }
  std::size_t count(const std::string& needle) const {
    if (!std::filesystem::exists(log)) return 0;
    auto text = read_file(log);
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }
  bool alive() const { return pid > 0 && ::kill(pid, 0) == 0; }
  int stop() {
    ::kill(pid, SIGTERM);
    int rc = wait_process(pid);
    pid = -1;
    return rc;
  }
  void kill9() {
    ::kill(pid, SIGKILL);
    wait_process(pid);
    pid = -1;
  }
  // Resident set size of the daemon now, in KiB (0 if unknown).
  std::uint64_t rss_kib() const {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
    return 0;
  }
  HttpReply get(const std::string& target, const std::vector<std::string>& headers = {}) const {
    return http_request(port, "GET", target, {}, headers);
  }
  HttpReply post(const std::string& target, const std::string& body,
                 const std::vector<std::string>& headers = {}) const {
    return http_request(port, "POST", target, body, headers);
  }
};

// Sorted lines of a text (a header line, when `header`, stays first).
inline std::vector<std::string> sorted_lines(const std::string& text, bool header) {
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin() + (header && !lines.empty() ? 1 : 0), lines.end());
  return lines;
}

}  // namespace meterd::test
