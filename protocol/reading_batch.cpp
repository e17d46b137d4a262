#include "protocol/reading_batch.hpp"

namespace meterd {

std::uint32_t StringTable::intern(std::string_view text) {
  if (text.empty()) return 0;
  // Heterogeneous lookup needs C++20 transparent hashing; a temporary key is cheap here
  // because intern() runs per 200/400 record, never per reading.
  auto [it, inserted] = index_.try_emplace(std::string(text), 0);
  if (inserted) {
    it->second = static_cast<std::uint32_t>(offsets_.size() - 1);
    arena_.append(text);
    offsets_.push_back(static_cast<std::uint32_t>(arena_.size()));
  }
  return it->second;
}

void StringTable::clear() {
  arena_.clear();
  offsets_.assign({0, 0});  // id 0 = ""
  index_.clear();
}

ReadingRow ReadingBatch::row(const ReadingRun& run, std::uint32_t k) const {
  return ReadingRow{strings[run.nmi],
                    strings[run.suffix],
                    strings[run.register_id],
                    strings[run.meter_serial],
                    strings[run.uom],
                    strings[run.reason_description],
                    run.interval_minutes,
                    run.quality,
                    run.method,
                    run.reason_code,
                    run.line_of(k),
                    run.interval_start(k),
                    run.update_datetime,
                    run.msats_load_datetime,
                    run.file_created,
                    run.file_sequence,
                    values[run.first_value + k]};
}

}  // namespace meterd
