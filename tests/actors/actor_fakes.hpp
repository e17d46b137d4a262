// Fakes and helpers for the actor tests: an in-memory store that can be slow or fail on
// purpose, and small generated NEM12 inputs.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <vector>

#include "actors/ingest_store.hpp"
#include "tests/test_support.hpp"

namespace meterd::test {

// Keeps the key of every reading written, so tests can check that nothing was lost.
class FakeStore : public actors::IngestStore {
 public:
  using Key = std::tuple<std::string, std::string, epoch_seconds>;

  std::chrono::milliseconds delay{0};        // every write sleeps this long (a slow disk)
  std::atomic<int> fail_writes{0};           // the next N writes throw ENOSPC
  std::atomic<bool> failing{false};          // every write throws ENOSPC while set
  std::atomic<int> crash_writes{0};          // the next N writes throw a non-I/O error
  std::atomic<bool> failing_records{false};  // write_records throws ENOSPC while set
  std::atomic<std::uint64_t> writes{0}, failures{0}, readings{0};
  std::atomic<std::uint64_t> record_writes{0};  // write_records calls that landed
  std::atomic<std::size_t> largest_record_write{0};

  storage::PartInfo write(const storage::PartitionBatch& partition) override {
    const ReadingBatch& batch = partition.batch;
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    if (crash_writes > 0 && crash_writes.fetch_sub(1) > 0)
      throw std::logic_error("injected writer crash");
    if (failing || (fail_writes > 0 && fail_writes.fetch_sub(1) > 0)) {
      ++failures;
      throw std::system_error(ENOSPC, std::generic_category(), "injected: no space left");
    }
    std::lock_guard lock(mutex_);
    batch.for_each([&](const ReadingRow& r) {
      keys_.insert({std::string(r.nmi), std::string(r.suffix), r.interval_start});
    });
    ++writes;
    readings += batch.readings();
    return storage::PartInfo{"month=x", {}, batch.readings(), 0, 0, 0};
  }
  // Keeps the key of every register read and B2B event written (their tables keep one record
  // per key).
  void write_records(const storage::FileRecords& records) override {
    if (failing || failing_records) {
      ++failures;
      throw std::system_error(ENOSPC, std::generic_category(), "injected: no space left");
    }
    std::lock_guard lock(mutex_);
    ++record_writes;
    if (records.size() > largest_record_write) largest_record_write = records.size();
    for (const auto& r : records.register_reads)
      register_reads_.insert(r.nmi + '/' + r.suffix + '/' + r.register_id + '/' +
                             std::to_string(r.current_read_datetime));
    for (const auto& e : records.b2b_events)
      b2b_events_.insert(e.nmi + '/' + e.suffix + '/' + std::to_string(e.interval_date) + '/' +
                         std::string(1, e.trans_code) + '/' + e.ret_service_order + '/' +
                         std::to_string(e.read_datetime));
  }
  std::size_t distinct_register_reads() {
    std::lock_guard lock(mutex_);
    return register_reads_.size();
  }
  std::size_t distinct_b2b_events() {
    std::lock_guard lock(mutex_);
    return b2b_events_.size();
  }
  std::uint64_t next_file_sequence() override { return ++sequence_; }
  bool ledger_contains(const std::string& hash) override {
    std::lock_guard lock(mutex_);
    return ledger_.count(hash) > 0;
  }
  bool ledger_might_contain(const InputFingerprint& fingerprint) override {
    std::lock_guard lock(mutex_);
    return fingerprints_.count({fingerprint.size, fingerprint.head_sha256}) > 0;
  }
  void ledger_record(const std::string& hash, const std::string&, std::uint64_t,
                     const std::optional<InputFingerprint>& fingerprint) override {
    std::lock_guard lock(mutex_);
    ledger_.insert(hash);
    if (fingerprint) fingerprints_.insert({fingerprint->size, fingerprint->head_sha256});
  }
  std::size_t distinct_keys() {
    std::lock_guard lock(mutex_);
    return keys_.size();
  }

 private:
  std::mutex mutex_;
  std::set<Key> keys_;
  std::set<std::string> ledger_, register_reads_, b2b_events_;
  std::set<std::pair<std::uint64_t, std::string>> fingerprints_;
  std::atomic<std::uint64_t> sequence_{0};
};

// Forwards to another store, failing every write while `failing` is set (a disk that is full
// for a while).
class FlakyStore : public actors::IngestStore {
 public:
  explicit FlakyStore(actors::IngestStore& inner) : inner_(inner) {}
  std::atomic<bool> failing{false};
  std::atomic<std::uint64_t> failures{0};
  storage::PartInfo write(const storage::PartitionBatch& batch) override {
    if (failing) {
      ++failures;
      throw std::system_error(ENOSPC, std::generic_category(), "injected: no space left");
    }
    return inner_.write(batch);
  }
  void write_records(const storage::FileRecords& records) override {
    if (failing) {
      ++failures;
      throw std::system_error(ENOSPC, std::generic_category(), "injected: no space left");
    }
    inner_.write_records(records);
  }
  std::uint64_t next_file_sequence() override { return inner_.next_file_sequence(); }
  bool ledger_contains(const std::string& h) override { return inner_.ledger_contains(h); }
  bool ledger_might_contain(const InputFingerprint& f) override {
    return inner_.ledger_might_contain(f);
  }
  void ledger_record(const std::string& h, const std::string& n, std::uint64_t s,
                     const std::optional<InputFingerprint>& f) override {
    inner_.ledger_record(h, n, s, f);
  }

 private:
  actors::IngestStore& inner_;
};

struct GeneratedFiles {
  std::vector<std::filesystem::path> paths;
  std::uint64_t readings = 0;  // sum over files
  std::uint64_t distinct = 0;  // distinct (nmi, suffix, start) if files do not overlap
};

// `count` files of nmis x days; different seeds give different NMIs (no overlap).
inline GeneratedFiles generate_files(const std::filesystem::path& dir, int count,
                                     std::uint32_t nmis, std::uint32_t days,
                                     std::uint64_t first_seed = 1) {
  GeneratedFiles out;
  std::filesystem::create_directories(dir);
  for (int i = 0; i < count; ++i) {
    GeneratorOptions o;
    o.seed = first_seed + static_cast<std::uint64_t>(i);
    o.nmis = nmis;
    o.days = days;
    auto path = dir / ("gen-" + std::to_string(1000 + i) + ".csv");
    auto stats = generate_nem12_file(o, path);
    out.paths.push_back(path);
    out.readings += stats.readings;
  }
  out.distinct = out.readings;
  return out;
}

}  // namespace meterd::test
