// Helpers shared by the storage tests: a reference model of "newest version per key", CSV
// of a query, and a scan of the data directory for orphans/temporaries.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "protocol/reading_format.hpp"
#include "storage/store.hpp"
#include "tests/storage/batch_fixture.hpp"

namespace meterd::storage::test {

// Rows owning their strings, so the model outlives the batches.
struct OwnedRow {
  std::string nmi, suffix, register_id, meter_serial, uom, reason_description;
  ReadingRow row;
  explicit OwnedRow(const ReadingRow& r)
      : nmi(r.nmi),
        suffix(r.suffix),
        register_id(r.register_id),
        meter_serial(r.meter_serial),
        uom(r.uom),
        reason_description(r.reason_description),
        row(r) {}
  ReadingRow view() const {
    ReadingRow r = row;
    r.nmi = nmi, r.suffix = suffix, r.register_id = register_id, r.meter_serial = meter_serial;
    r.uom = uom, r.reason_description = reason_description;
    return r;
  }
};

// The version order as docs/storage.md states it, written here apart from storage/version.hpp:
// times, line, then the rest of the reading (arrival, file_sequence, plays no part).
inline auto version_tuple(const ReadingRow& r) {
  return std::make_tuple(r.update_datetime, r.file_created, r.line, r.value,
                         static_cast<unsigned char>(r.quality), r.method, r.reason_code,
                         r.interval_minutes, r.uom, r.reason_description, r.register_id,
                         r.meter_serial, r.msats_load_datetime);
}

// The specification of merge-on-read: one row per key, the greatest version.
class Model {
 public:
  void add(const ReadingBatch& batch) {
    batch.for_each([&](const ReadingRow& r) {
      const auto key = std::make_tuple(std::string(r.nmi), std::string(r.suffix), r.interval_start);
      auto it = rows_.find(key);
      if (it == rows_.end() || version_tuple(it->second.view()) < version_tuple(r))
        rows_.insert_or_assign(key, OwnedRow(r));
    });
  }
  std::string csv(const QueryFilter& f = {}) const {
    std::string out;
    for (const auto& [key, owned] : rows_) {
      const ReadingRow& r = owned.row;
      if (f.nmi && *f.nmi != std::get<0>(key)) continue;
      if (f.suffix && *f.suffix != std::get<1>(key)) continue;
      if (f.from && r.interval_start < *f.from) continue;
      if (f.to && r.interval_start >= *f.to) continue;
      append_csv_row(out, owned.view());
    }
    return out;
  }
  std::size_t size() const { return rows_.size(); }

 private:
  std::map<std::tuple<std::string, std::string, epoch_seconds>, OwnedRow> rows_;
};

inline std::string query_csv(const Store& store, const QueryFilter& f = {}) {
  std::string out;
  store.query(f, [&](const ReadingBatch& b) { out += to_csv(b); });
  return out;
}

struct DirScan {
  std::set<std::string> parquet, temporaries;
};
inline DirScan scan_readings(const std::filesystem::path& data_dir) {
  DirScan s;
  for (const auto& e : std::filesystem::recursive_directory_iterator(data_dir / "readings")) {
    if (!e.is_regular_file()) continue;
    const auto name = e.path().filename().string();
    if (name.ends_with(".tmp"))
      s.temporaries.insert(e.path().string());
    else if (name.ends_with(".parquet"))
      s.parquet.insert(e.path().string());
  }
  return s;
}
inline std::set<std::string> manifest_paths(const Store& store) {
  std::set<std::string> out;
  for (const auto& p : store.parts()) out.insert(p.path.string());
  return out;
}

}  // namespace meterd::storage::test
