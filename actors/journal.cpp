#include "actors/journal.hpp"

#include "storage/fs_util.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

namespace meterd::actors::journal {
namespace {

constexpr char kMagic[8] = {'M', 'T', 'R', 'J', 'N', 'L', '0', '1'};
constexpr char kTrailer[8] = {'M', 'T', 'R', 'J', 'E', 'N', 'D', '!'};

template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <class T>
bool get(std::string_view& in, T& v) {
  if (in.size() < sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}

}  // namespace

std::filesystem::path save(const std::filesystem::path& dir, const SealedBatch& batch) {
  std::filesystem::create_directories(dir);
  std::string out(kMagic, sizeof kMagic);
  put(out, batch.id);
  put(out, batch.partition->month);
  put(out, batch.attempts);
  const auto& b = batch.partition->batch;
  put(out, static_cast<std::uint32_t>(b.strings.size()));
  for (std::uint32_t i = 0; i < b.strings.size(); ++i) {
    auto s = b.strings[i];
    put(out, static_cast<std::uint32_t>(s.size()));
    out.append(s);
  }
  put(out, static_cast<std::uint64_t>(b.runs.size()));
  out.append(reinterpret_cast<const char*>(b.runs.data()), b.runs.size() * sizeof(ReadingRun));
  put(out, static_cast<std::uint64_t>(b.values.size()));
  out.append(reinterpret_cast<const char*>(b.values.data()), b.values.size() * sizeof(double));
  put(out, static_cast<std::uint64_t>(batch.shares.size()));
  out.append(reinterpret_cast<const char*>(batch.shares.data()),
             batch.shares.size() * sizeof(FileShare));
  out.append(kTrailer, sizeof kTrailer);
  // Names sort by creation: wall-clock nanoseconds, then a per-process counter.
  static std::atomic<std::uint64_t> counter{0};
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  char name[96];
  std::snprintf(name, sizeof name, "batch-%020lld-%06llu.journal", static_cast<long long>(ns),
                static_cast<unsigned long long>(counter++ % 1000000));
  auto path = dir / name;
  storage::fs::atomic_replace(path, out);
  return path;
}

std::optional<SealedBatch> load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string bytes = buf.str();
  std::string_view v(bytes);
  if (v.size() < 16 || std::memcmp(v.data(), kMagic, 8) != 0 ||
      std::memcmp(v.data() + v.size() - 8, kTrailer, 8) != 0)
    return std::nullopt;
  v.remove_prefix(8);
  v.remove_suffix(8);
  SealedBatch batch;
  auto partition = std::make_shared<storage::PartitionBatch>();
  std::uint32_t nstrings = 0;
  if (!get(v, batch.id) || !get(v, partition->month) || !get(v, batch.attempts) ||
      !get(v, nstrings))
    return std::nullopt;
  for (std::uint32_t i = 0; i < nstrings; ++i) {
    std::uint32_t len = 0;
    if (!get(v, len) || v.size() < len) return std::nullopt;
    // Interning in order reproduces the ids (id 0 is always the empty string).
    if (partition->batch.strings.intern(v.substr(0, len)) != i) return std::nullopt;
    v.remove_prefix(len);
  }
  std::uint64_t n = 0;
  if (!get(v, n) || v.size() < n * sizeof(ReadingRun)) return std::nullopt;
  partition->batch.runs.resize(n);
  std::memcpy(partition->batch.runs.data(), v.data(), n * sizeof(ReadingRun));
  v.remove_prefix(n * sizeof(ReadingRun));
  if (!get(v, n) || v.size() < n * sizeof(double)) return std::nullopt;
  partition->batch.values.resize(n);
  std::memcpy(partition->batch.values.data(), v.data(), n * sizeof(double));
  v.remove_prefix(n * sizeof(double));
  if (!get(v, n) || v.size() != n * sizeof(FileShare)) return std::nullopt;
  batch.shares.resize(n);
  std::memcpy(batch.shares.data(), v.data(), n * sizeof(FileShare));
  batch.partition = std::move(partition);
  return batch;
}

std::vector<std::filesystem::path> list(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".journal") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace meterd::actors::journal
