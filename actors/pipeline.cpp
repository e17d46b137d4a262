#include "actors/pipeline.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "actors/defaults.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"

namespace meterd::actors {

std::uint64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

RunResult run_pipeline(const Config& config, IngestStore& store, Intake& intake, Metrics& metrics,
                       const RunOptions& options) {
  RunResult result;
  const auto t0 = std::chrono::steady_clock::now();
  log::set_level(config.log_level);

  // Signals must be blocked before CAF starts its threads (they inherit the mask); a thread of
  // ours waits for them. SIGUSR2 is our own "pipeline finished" wake-up for that thread.
  sigset_t signals, old_mask;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR2);
  if (options.on_reload) sigaddset(&signals, SIGHUP);
  if (options.drain_on_signal) pthread_sigmask(SIG_BLOCK, &signals, &old_mask);

  std::atomic<bool> failed{false}, done{false};
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", static_cast<std::size_t>(config.scheduler_threads));
    cfg.set("work-stealing.moderate-poll-attempts", defaults::scheduler_moderate_polls);
    caf::actor_system system{cfg};
    auto supervisor = spawn_supervisor(system, store, intake, config, options, metrics, failed);

    std::thread signal_thread;
    if (options.drain_on_signal) {
      signal_thread = std::thread([&, supervisor] {
        int sig = 0;
        while (sigwait(&signals, &sig) == 0) {
          if (sig == SIGUSR2 || done) return;
          if (sig == SIGHUP) {
            log::info("signal", {{"signal", "SIGHUP"}});
            options.on_reload();
            continue;
          }
          log::info("signal", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
          result.interrupted = true;
          caf::anon_send(supervisor, drain_atom::value);
        }
      });
    }
    std::mutex mutex;
    std::condition_variable wake;
    std::thread progress_thread;
    if (options.on_progress || options.stop) {
      progress_thread = std::thread([&, supervisor] {
        std::unique_lock lock(mutex);
        bool stop_sent = false;
        const auto interval =
            options.on_progress ? options.progress_interval : std::chrono::milliseconds(10);
        while (!done) {
          wake.wait_for(lock, interval);
          if (done) break;
          if (options.on_progress) options.on_progress();
          if (options.stop && *options.stop && !stop_sent) {
            stop_sent = true;
            result.interrupted = true;
            caf::anon_send(supervisor, drain_atom::value);
          }
        }
      });
    }
    supervisor = nullptr;  // our handle must not keep it alive
    system.await_all_actors_done();
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    wake.notify_all();
    if (progress_thread.joinable()) progress_thread.join();
    if (signal_thread.joinable()) {
      pthread_kill(signal_thread.native_handle(), SIGUSR2);
      signal_thread.join();
    }
  }
  if (options.drain_on_signal) pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  result.ok = !failed;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace meterd::actors
