#include "storage/part_sources.hpp"

#include <algorithm>

namespace meterd::storage {

std::uint64_t stream_source_hash(std::string_view nmi, std::string_view suffix,
                                 epoch_seconds file_created) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  auto add = [&h](unsigned char c) { h = (h ^ c) * 0x100000001b3ULL; };
  for (char c : nmi) add(static_cast<unsigned char>(c));
  add(0xff);
  for (char c : suffix) add(static_cast<unsigned char>(c));
  add(0xff);
  for (int i = 0; i < 8; ++i)
    add(static_cast<unsigned char>(static_cast<std::uint64_t>(file_created) >> (8 * i)));
  return h;
}

void SourcePairsBuilder::add(const StringTable& strings, const ReadingRun& run) {
  if (run.count == 0) return;
  add(stream_source_hash(strings[run.nmi], strings[run.suffix], run.file_created),
      run.file_sequence);
}

void SourcePairsBuilder::add(std::uint64_t stream_source, std::uint64_t file_sequence) {
  if (!pairs_.empty() && pairs_.back() == std::make_pair(stream_source, file_sequence)) return;
  pairs_.emplace_back(stream_source, file_sequence);
}

SourcePairs SourcePairsBuilder::finish() {
  std::sort(pairs_.begin(), pairs_.end());
  pairs_.erase(std::unique(pairs_.begin(), pairs_.end()), pairs_.end());
  return std::move(pairs_);
}

std::string encode_source_pairs(const SourcePairs& pairs) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(pairs.size() * 32);
  for (const auto& [hash, sequence] : pairs)
    for (std::uint64_t v : {hash, sequence})
      for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(v >> shift) & 0xf]);
  return out;
}

bool decode_source_pairs(std::string_view text, SourcePairs& out) {
  if (text.size() % 32 != 0) return false;
  out.clear();
  out.reserve(text.size() / 32);
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t at = 0; at < text.size(); at += 32) {
    std::uint64_t v[2] = {0, 0};
    for (int i = 0; i < 32; ++i) {
      const int d = digit(text[at + static_cast<std::size_t>(i)]);
      if (d < 0) return false;
      v[i / 16] = v[i / 16] << 4 | static_cast<std::uint64_t>(d);
    }
    out.emplace_back(v[0], v[1]);
  }
  return std::is_sorted(out.begin(), out.end());
}

}  // namespace meterd::storage
