#include "storage/journal.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "protocol/batch_codec.hpp"
#include "protocol/little_endian.hpp"
#include "storage/fs_util.hpp"
#include "storage/partition.hpp"

namespace meterd::storage::journal {
namespace {

constexpr std::string_view kMagic = "MTRJNL04", kTrailer = "MTRJEND!";
// Journals from before batches carried a tenant (all of the default tenant).
constexpr std::string_view kMagicV3 = "MTRJNL03";
// Journals of frame layout v2 (before runs carried line_step).
constexpr std::string_view kMagicV2 = "MTRJNL02";
// Journals written before the codec (held in journal/ or dead_letter/ across an upgrade): the
// batch as raw ReadingRun structs, in the former batcher's order.
constexpr std::string_view kMagicV1 = "MTRJNL01";

// MTRJNL01: u64 id, i32 month, u32 attempts, u32 strings (u32 length, bytes)*, u64 runs,
// ReadingRun[runs] as in memory, u64 values, f64[values], u64 shares, 16 bytes each (ignored).
// Checked by the codec's structural rules and sorted into row order, as a sealed batch is.
std::optional<Entry> load_v1(std::string_view in) {
  Entry entry;
  ReadingBatch& batch = entry.batch.batch;
  std::uint32_t strings = 0;
  if (!little_endian::take(in, entry.id) || !little_endian::take(in, entry.batch.month) ||
      !little_endian::take(in, entry.attempts) || !little_endian::take(in, strings))
    return std::nullopt;
  for (std::uint32_t i = 0; i < strings; ++i) {
    std::uint32_t length = 0;
    if (!little_endian::take(in, length) || in.size() < length) return std::nullopt;
    // Interning in order reproduces the ids (id 0 is always the empty string).
    if (batch.strings.intern(in.substr(0, length)) != i) return std::nullopt;
    in.remove_prefix(length);
  }
  std::uint64_t n = 0;
  if (!little_endian::take(in, n) || in.size() / sizeof(ReadingRun) < n) return std::nullopt;
  batch.runs.resize(n);
  // line_step sits in what was padding of the MTRJNL01 layout (same size and offsets).
  static_assert(sizeof(ReadingRun) == 88 && offsetof(ReadingRun, first_start) == 48);
  std::memcpy(batch.runs.data(), in.data(), n * sizeof(ReadingRun));
  for (ReadingRun& run : batch.runs) run.line_step = 0;
  in.remove_prefix(n * sizeof(ReadingRun));
  if (!little_endian::take(in, n) || in.size() / sizeof(double) < n) return std::nullopt;
  batch.values.resize(n);
  std::memcpy(batch.values.data(), in.data(), n * sizeof(double));
  in.remove_prefix(n * sizeof(double));
  if (!little_endian::take(in, n) || in.size() != n * 16) return std::nullopt;
  if (!check_batch(batch).empty()) return std::nullopt;
  try {
    entry.batch = sort_partition(entry.batch.month, std::move(batch));
  } catch (const std::invalid_argument&) {
    return std::nullopt;  // a run outside its month
  }
  return entry;
}

}  // namespace

std::filesystem::path save(const std::filesystem::path& dir, std::uint64_t id,
                           std::uint32_t attempts, const PartitionBatch& batch) {
  fs::make_dirs(dir);
  std::string out(kMagic);
  little_endian::append(out, id);
  little_endian::append(out, attempts);
  little_endian::append(out, batch.month);
  little_endian::append(out, static_cast<std::uint32_t>(batch.tenant.size()));
  out.append(batch.tenant);
  little_endian::append(out, static_cast<std::uint8_t>(batch.may_have_duplicates));
  append_batch_frame(out, batch.batch);
  out.append(kTrailer);
  // Names sort by creation: wall-clock nanoseconds, then a per-process counter.
  static std::atomic<std::uint64_t> counter{0};
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  char name[96];
  std::snprintf(name, sizeof name, "batch-%020lld-%06llu.journal", static_cast<long long>(ns),
                static_cast<unsigned long long>(counter++ % 1000000));
  const auto path = dir / name;
  fs::atomic_replace(path, out);
  return path;
}

std::optional<Entry> load(const std::filesystem::path& file) {
  const std::string bytes = fs::read_all(file);
  std::string_view in(bytes);
  if (in.size() < kMagic.size() + kTrailer.size() || !in.ends_with(kTrailer)) return std::nullopt;
  in.remove_suffix(kTrailer.size());
  if (in.starts_with(kMagicV1)) return load_v1(in.substr(kMagicV1.size()));
  const bool v2 = in.starts_with(kMagicV2), v3 = in.starts_with(kMagicV3);
  if (!v2 && !v3 && !in.starts_with(kMagic)) return std::nullopt;
  in.remove_prefix(kMagic.size());
  Entry entry;
  std::uint8_t duplicates = 0;
  if (!little_endian::take(in, entry.id) || !little_endian::take(in, entry.attempts) ||
      !little_endian::take(in, entry.batch.month))
    return std::nullopt;
  if (!v2 && !v3) {
    std::uint32_t length = 0;
    if (!little_endian::take(in, length) || in.size() < length) return std::nullopt;
    const std::string_view tenant = in.substr(0, length);
    // It names the directory the batch is replayed into.
    if (!tenant.empty() && !valid_tenant(tenant)) return std::nullopt;
    entry.batch.tenant = tenant;
    in.remove_prefix(length);
  }
  if (!little_endian::take(in, duplicates)) return std::nullopt;
  entry.batch.may_have_duplicates = duplicates != 0;
  std::string_view payload;
  if (!take_batch_frame(in, payload) || !in.empty()) return std::nullopt;
  const FrameRules rules{FrameChecks::structural, v2 ? FrameLayout::v2 : FrameLayout::v3};
  if (!decode_batch_frame(payload, entry.batch.batch, rules).empty()) return std::nullopt;
  if (v2) {
    // Sorted under the former version order (arrival decided ties): sorted again.
    try {
      entry.batch = sort_partition(entry.batch.month, std::move(entry.batch.batch));
    } catch (const std::invalid_argument&) {
      return std::nullopt;
    }
  }
  return entry;
}

std::vector<std::filesystem::path> list(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".journal") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace meterd::storage::journal
