#include "app/forwarder.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>

#include "app/bounded_queue.hpp"
#include "app/dir_watch.hpp"
#include "app/forwarder_state.hpp"
#include "app/http_body_pool.hpp"
#include "app/http_client.hpp"
#include "protocol/reading_decoder.hpp"
#include "protocol/sha256.hpp"

namespace meterd::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Item {
  std::string name;    // file, or file#part
  std::string target;  // /v1/readings, /v1/files, or empty for an upload of the file `name`
  std::string body;
  std::string hash;        // of an upload: the file's sha256, its id at the central
  std::uint64_t size = 0;  // of an upload
  std::string key;         // in the state file: ForwarderState::upload_key or request_key
};

bool transient(int status) {
  return status == 0 || status == 408 || status == 429 || status >= 500;
}

// What an operator can do about a refusal.
const char* refusal_hint(int status) {
  switch (status) {
    case 401:
    case 403:
      return " (check --token or METERD_TOKEN)";
    case 413:
      return " (over the central's limit: lower --batch-bytes, or raise http_max_body_bytes or "
             "http_max_file_bytes there)";
    case 415:
      return " (not a format the central reads)";
    case 422:
      return " (the central rejected the content; its report says why)";
    default:
      return "";
  }
}

std::uint64_t number_after(const std::string& body, std::string_view key) {
  const auto at = body.find(key);
  return at == std::string::npos ? 0 : std::strtoull(body.c_str() + at + key.size(), nullptr, 10);
}

bool says_status(const std::string& body, std::string_view status) {
  return body.find("\"status\":\"" + std::string(status) + "\"") != std::string::npos;
}

bool ignored(const std::string& name) {
  auto ends = [&](std::string_view s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return name.empty() || name[0] == '.' || ends(".tmp") || ends(".part");
}

std::uint64_t readings_in(const std::string& body) {
  return number_after(body, "\"readings\":");
}

// The sha256 of a file, read through 1 MiB; empty if it cannot be read.
std::string file_sha256(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  Sha256 hash;
  std::string chunk(1u << 20, '\0');
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    hash.update(std::string_view(chunk.data(), static_cast<std::size_t>(in.gcount())));
  }
  return in.bad() ? std::string() : hash.hex_digest();
}

constexpr std::size_t kReadChunkBytes = 256u << 10;

class Forwarder {
 public:
  Forwarder(const ForwardOptions& o, const std::atomic<bool>& stop)
      : o_(o), stop_(stop), state_(o.state_file), queue_(std::max(2u, o.parallel) * 2) {}

  ForwardResult run() {
    const auto t0 = Clock::now();
    std::vector<fs::path> dirs;
    for (const auto& p : o_.paths) {
      std::error_code ec;
      if (fs::is_directory(p, ec)) dirs.push_back(p);
    }
    // Watching starts before the first scan: a file arriving during the scan is then announced
    // too, and consider() reads it once if the scan already got it whole.
    std::optional<DirWatch> watch;
    if (o_.watch) watch.emplace(dirs);
    std::vector<std::thread> senders;
    for (unsigned i = 0; i < std::max(1u, o_.parallel); ++i)
      senders.emplace_back([this] { send_loop(); });
    std::thread waker([this] {  // a stop must also free a reader blocked on a full queue
      while (!finished_.load()) {
        if (stop_.load()) queue_.wake();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
    for (const auto& p : o_.paths) scan(p);
    if (watch) watch_loop(*watch, dirs);
    queue_.close();
    for (auto& t : senders) t.join();
    finished_ = true;
    waker.join();
    std::lock_guard lock(mutex_);
    result_.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    // With --watch a stop is the normal end: an interruption only if it left something unsent.
    const bool unsent = result_.requests > result_.acknowledged + result_.skipped + result_.failed;
    result_.interrupted = stop_.load() && (!o_.watch || unsent || cut_short_);
    return result_;
  }

 private:
  // A path given on the command line: a file is read once as given (a missing one is reported),
  // a directory is listed in name order.
  void scan(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec))
      list(path);
    else if (read_.try_emplace(path).second)
      read_file(path);
  }

  void list(const fs::path& dir) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      if (stop_.load()) {
        cut_short_ = true;
        return;
      }
      consider(f);
    }
  }

  // Sleeps in poll() until the kernel announces a file; the 100 ms timeout only bounds how long
  // a stop takes to be noticed (a signal sets a flag, on whichever thread it lands).
  void watch_loop(DirWatch& watch, const std::vector<fs::path>& dirs) {
    bool overflowed = false;
    auto last_scan = Clock::now();
    while (!stop_.load()) {
      for (const auto& f : watch.wait(std::chrono::milliseconds(100), overflowed)) {
        if (stop_.load()) break;
        consider(f);
      }
      // IN_Q_OVERFLOW: the kernel dropped events, so only a listing can tell what arrived. At
      // most one listing per rescan_interval, so that a producer outrunning us keeps us sending
      // rather than listing; consider() makes a listing cheap (a stat per unchanged file).
      if (overflowed && Clock::now() - last_scan >= o_.rescan_interval) {
        overflowed = false;
        last_scan = Clock::now();
        for (const auto& d : dirs) list(d);
      }
    }
  }

  // A file of a directory is read only if it changed since it was last read, so that an event
  // for a file the first scan already read whole, or a rescan, costs a stat and no re-send. A
  // file renamed in over an old name is another inode, hence read. Content acknowledged in an
  // earlier run is skipped by its hash in the state file.
  void consider(const fs::path& path) {
    if (ignored(path.filename().string())) return;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    const Version v{st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
    auto [at, added] = read_.try_emplace(path, v);
    if (!added) {
      if (at->second == v) return;
      at->second = v;
    }
    read_file(path);
  }

  void enqueue(Item&& item) {
    item.key = item.hash.empty() ? ForwarderState::request_key(item.body)
                                 : ForwarderState::upload_key(item.hash);
    {
      std::lock_guard lock(mutex_);
      ++result_.requests;
    }
    const std::uint64_t bytes = item.hash.empty() ? item.body.size() : item.size;
    progress_.bytes_read += bytes;
    if (state_.contains(item.key) ||
        (state_.has_bare_sha256_keys() &&
         state_.contains(item.hash.empty() ? Sha256::hex_of(item.body) : item.hash))) {
      progress_.bytes_at_central += bytes;
      std::lock_guard lock(mutex_);
      ++result_.skipped;
      return;
    }
    queue_.push(std::move(item), stop_);
  }

  void read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "meterd forward: cannot read %s\n", path.c_str());
      std::lock_guard lock(mutex_);
      ++result_.failed;
      return;
    }
    {
      std::lock_guard lock(mutex_);
      ++result_.files;
    }
    ++progress_.files;
    // The format as the central's pipeline tells it, read on for as long as only a BOM or
    // whitespace has come: leading blank lines, however many, do not hide NDJSON.
    std::string head;
    ReadingFormatSniffer sniffer;
    for (char buf[4096]; sniffer.format() == ReadingFormat::undecided && in;) {
      in.read(buf, sizeof buf);
      const std::string_view got(buf, static_cast<std::size_t>(in.gcount()));
      head.append(got);
      sniffer.feed(got);
    }
    if (sniffer.format() != ReadingFormat::ndjson) {
      // A file larger than one request goes as a resumable upload of ranges, read from the file
      // as they are sent; a smaller one whole in one request.
      std::error_code ec;
      const std::uint64_t size = fs::file_size(path, ec);
      if (!ec && size > std::max<std::size_t>(1, o_.batch_bytes)) {
        const std::string hash = file_sha256(path);
        if (!hash.empty()) return enqueue({path.string(), {}, {}, hash, size, {}});
      }
      std::string body = head;
      body.append(std::istreambuf_iterator<char>(in), {});
      return enqueue({path.string(), "/v1/files", std::move(body), {}, 0, {}});
    }
    // NDJSON: requests of whole lines, at most batch_bytes each (a longer line goes alone).
    // The cuts depend only on the content, so a restarted forwarder makes the same requests
    // and recognises the acknowledged ones by their hash. The file is read into the next
    // request's body, a pooled buffer, through a chunk that stays in cache (reading into the
    // body itself would zero-fill it first: std::string::resize, a second pass over each byte).
    const std::size_t batch = std::max<std::size_t>(1, o_.batch_bytes);
    std::string chunk(kReadChunkBytes, '\0');
    auto fresh_body = [&] {
      std::string body = bodies_.take(batch + chunk.size());
      body.reserve(batch + chunk.size());
      return body;
    };
    std::string pending = fresh_body();
    pending.assign(head);
    auto read_more = [&] {
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      pending.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    };
    std::uint64_t part = 0;
    while (!stop_.load()) {
      while (pending.size() < batch && in) read_more();
      if (pending.empty()) break;
      const bool at_end = !in;
      std::size_t cut = pending.size();
      if (!at_end || pending.size() > batch) {
        auto nl = pending.rfind('\n', std::min(pending.size(), batch) - 1);
        if (nl == std::string::npos) nl = pending.find('\n', batch);
        if (nl == std::string::npos && !at_end) {
          read_more();  // one line longer than a batch: read on to its end
          continue;
        }
        if (nl != std::string::npos) cut = nl + 1;
      }
      std::string rest = fresh_body();
      rest.assign(pending, cut);
      pending.resize(cut);
      enqueue({path.string() + "#" + std::to_string(part++),
               "/v1/readings",
               std::exchange(pending, std::move(rest)),
               {},
               0,
               {}});
    }
    if (!pending.empty() || in) cut_short_ = true;  // only a stop leaves the loop early
    bodies_.give(std::move(pending));
  }

  void send_loop() {
    HttpClient client(parse_http_url(o_.url), o_.token, o_.timeout, o_.ca_file);
    while (auto item = queue_.pop()) {
      if (stop_.load()) continue;  // drain without sending
      if (item->target.empty()) {
        upload(client, *item);
        continue;
      }
      auto backoff = o_.backoff_initial;
      for (;;) {
        const auto sent = Clock::now();
        auto answer = client.post(item->target, item->body);
        if (answer.status == 200) {
          acknowledged(*item, answer, sent, item->body.size());
          break;
        }
        if (!transient(answer.status)) {
          refused(*item, answer);
          break;
        }
        if (!pause(*item, answer, backoff)) break;
      }
      bodies_.give(std::move(item->body));
    }
  }

  // A resumable upload (docs/http.md): every round starts by asking the central what it has,
  // so a crash or a dropped connection on either side costs at most the range in flight.
  void upload(HttpClient& client, const Item& item) {
    std::ifstream in(item.name, std::ios::binary);
    std::string range(std::max<std::size_t>(1, o_.batch_bytes), '\0');
    auto backoff = o_.backoff_initial;
    const auto sent = Clock::now();
    std::uint64_t counted = 0;  // of the file, in progress_.bytes_at_central
    auto central_has = [&](std::uint64_t offset) {
      if (offset > counted) progress_.bytes_at_central += offset - std::exchange(counted, offset);
    };
    while (!stop_.load()) {
      // Durable already (acknowledged, but not recorded here before a crash), or being ingested?
      HttpAnswer answer = client.get("/v1/ingests/" + item.hash);
      if (answer.status == 200 &&
          (says_status(answer.body, "durable") || says_status(answer.body, "duplicate")))
        return acknowledged(item, answer, sent, item.size, counted);
      if (answer.status == 202 || transient(answer.status)) {
        if (answer.status == 202) answer.status = 503;  // pending: ask again after a pause
        if (!pause(item, answer, backoff)) return;
        continue;
      }
      answer = client.get("/v1/uploads/" + item.hash);
      if (answer.status != 200) {
        if (transient(answer.status) && pause(item, answer, backoff)) continue;
        if (!transient(answer.status)) refused(item, answer);
        return;
      }
      std::uint64_t offset = number_after(answer.body, "\"offset\":");
      central_has(offset);
      while (!stop_.load()) {
        // All in but not finished (the last answer was lost): the last range again finishes it.
        if (offset >= item.size)
          offset = item.size - std::min<std::uint64_t>(range.size(), item.size);
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(range.size(), item.size - offset));
        in.clear();
        in.seekg(static_cast<std::streamoff>(offset));
        in.read(range.data(), static_cast<std::streamsize>(n));
        if (static_cast<std::size_t>(in.gcount()) != n) {
          std::fprintf(stderr, "meterd forward: %s: changed or unreadable while uploading\n",
                       item.name.c_str());
          std::lock_guard lock(mutex_);
          ++result_.failed;
          return;
        }
        answer = client.put("/v1/uploads/" + item.hash, std::string_view(range.data(), n),
                            "Content-Range",
                            "bytes " + std::to_string(offset) + "-" +
                                std::to_string(offset + n - 1) + "/" + std::to_string(item.size));
        if (answer.status == 409 || (answer.status == 200 && !says_status(answer.body, "durable") &&
                                     !says_status(answer.body, "duplicate"))) {
          offset = number_after(answer.body, "\"offset\":");
          central_has(offset);
          if (answer.status == 200) backoff = o_.backoff_initial;
          if (answer.status == 409 && answer.retry_after_s >= 0 && !pause(item, answer, backoff))
            return;
          continue;
        }
        if (answer.status == 200) return acknowledged(item, answer, sent, item.size, counted);
        if (!transient(answer.status)) return refused(item, answer);
        if (!pause(item, answer, backoff)) return;
        break;  // a new round: where is the central now?
      }
    }
  }

  // `counted`: of those bytes, already in progress_.bytes_at_central (an upload's ranges).
  void acknowledged(const Item& item, const HttpAnswer& answer, Clock::time_point sent,
                    std::uint64_t bytes, std::uint64_t counted = 0) {
    state_.record(item.key, item.name);
    progress_.bytes_at_central += bytes - std::min(bytes, counted);
    progress_.readings_durable += readings_in(answer.body);
    progress_.rejects += number_after(answer.body, "\"rejects\":");
    std::lock_guard lock(mutex_);
    ++result_.acknowledged;
    result_.readings += readings_in(answer.body);
    result_.bytes += bytes;
    result_.ack_latency_s.push_back(std::chrono::duration<double>(Clock::now() - sent).count());
  }

  // A 4xx but 408 and 429: sending it again would get the same answer.
  void refused(const Item& item, const HttpAnswer& answer) {
    std::fprintf(stderr, "meterd forward: %s refused (%d)%s: %.500s\n", item.name.c_str(),
                 answer.status, refusal_hint(answer.status), answer.body.c_str());
    ++progress_.refused;
    std::lock_guard lock(mutex_);
    ++result_.failed;
  }

  // Waits before a retry (at least Retry-After) and doubles the back-off; false on a stop.
  bool pause(const Item& item, const HttpAnswer& answer, std::chrono::milliseconds& backoff) {
    const int s = answer.status;
    if (!o_.quiet)
      std::fprintf(stderr, "meterd forward: %s: %s, retrying\n", item.name.c_str(),
                   s == 0 ? answer.error.c_str() : std::to_string(s).c_str());
    {
      std::lock_guard lock(mutex_);
      ++result_.retries;
    }
    ++progress_.retries;
    auto wait = backoff;
    if (answer.retry_after_s >= 0)
      wait = std::max(
          wait, std::chrono::milliseconds(static_cast<std::int64_t>(answer.retry_after_s * 1000)));
    for (auto waited = std::chrono::milliseconds(0); waited < wait && !stop_.load();
         waited += std::chrono::milliseconds(20))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    backoff = std::min(backoff * 2, o_.backoff_max);
    return !stop_.load();
  }

  const ForwardOptions& o_;
  const std::atomic<bool>& stop_;
  ForwardProgress own_progress_;
  ForwardProgress& progress_ = o_.progress ? *o_.progress : own_progress_;
  ForwarderState state_;
  BoundedQueue<Item> queue_;
  // Bodies sent come back here for the reader to fill next: up to parallel + 1 idle buffers
  // (those in flight and queued are the queue's bound on memory).
  BodyPool bodies_{(std::max(1u, o_.parallel) + 1) *
                   (std::max<std::size_t>(1, o_.batch_bytes) + kReadChunkBytes)};
  std::mutex mutex_;
  ForwardResult result_;
  std::atomic<bool> finished_{false};
  // Reader thread only: what was read of each path (a zero Version for a command-line file).
  using Version = std::tuple<ino_t, off_t, time_t, long>;
  std::map<fs::path, Version> read_;
  bool cut_short_ = false;  // a stop ended reading part-way through a file or a listing
};

}  // namespace

ForwardResult run_forward(const ForwardOptions& options, const std::atomic<bool>& stop) {
  Forwarder f(options, stop);
  return f.run();
}

}  // namespace meterd::app
