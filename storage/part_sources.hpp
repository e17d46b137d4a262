// Which files a readings part holds, stream by stream: one (stream and file DateTime, file
// sequence) pair per stream of each file, sorted, in the part's footer (key "meterd.sources",
// 32 hex digits a pair). Store::conflicts_with_stored reads a part only if another file in it
// holds one of a batch's streams with the same file DateTime, and this says so without reading
// the part (parts from before it are read once instead).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/reading_batch.hpp"

namespace meterd::storage {

using SourcePairs = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

inline constexpr std::string_view kSourcesKey = "meterd.sources";

// A stream (nmi, suffix) with one file DateTime, as one number.
std::uint64_t stream_source_hash(std::string_view nmi, std::string_view suffix,
                                 epoch_seconds file_created);

// Collects the pairs of runs given in row order (a stream's runs are consecutive there, so a
// run repeating the previous pair costs a comparison).
class SourcePairsBuilder {
 public:
  void add(const StringTable& strings, const ReadingRun& run);
  void add(std::uint64_t stream_source, std::uint64_t file_sequence);
  SourcePairs finish();  // sorted, unique

 private:
  SourcePairs pairs_;
};

std::string encode_source_pairs(const SourcePairs& pairs);
// False if `text` is not what encode_source_pairs writes.
bool decode_source_pairs(std::string_view text, SourcePairs& out);

}  // namespace meterd::storage
