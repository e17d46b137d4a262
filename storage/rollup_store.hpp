// The rollups on disk: DATA_DIR/rollups/NAME/[tenant=T/]month=YYYY-MM/part-<id>.parquet, each
// rollup a record table of its own (record_table_store.hpp: the readings' part lifecycle, its
// own manifest) plus DATA_DIR/rollups/NAME/COVERED, which says what the rollup reflects:
//
//   meterd-rollup 1
//   definition <the definition's canonical text>
//   <readings partition> <greatest readings part id it was computed from>
//
// A rollup partition is recomputed whole from a snapshot of its readings partition's winners
// and replaces the old one in one manifest record; COVERED is rewritten (temporary, fsync,
// rename) after. A crash between the two leaves the partition looking behind, so it is
// recomputed to the same rows. A partition is behind when its readings have a part the rollup
// has not seen (a new ingest, or a merge: recomputing after a merge changes nothing) or are
// gone (retention): then the rollup partition goes too. A definition whose text changed starts
// over, and a new one is built from the stored readings (backfill) the same way.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/record_table_store.hpp"
#include "storage/rollup.hpp"
#include "storage/store.hpp"

namespace meterd::storage {

// What a refresh did.
struct RollupRefresh {
  std::string partition;       // of the readings
  std::uint64_t readings = 0;  // winners read
  std::uint64_t rows = 0;      // rollup rows written, over every rollup refreshed
  std::size_t rollups = 0;     // rollups refreshed
};

class RollupStore {
 public:
  // How long a replaced rollup part stays on disk for readers that listed it.
  static constexpr std::chrono::seconds kRollupGrace{10};

  // Writable: opens (creating) each definition's table and recovers it; a rollup whose stored
  // definition differs is removed and started over.
  RollupStore(const std::filesystem::path& data_dir, std::vector<RollupDefinition> definitions,
              const StoreOptions& options = {});
  ~RollupStore();
  // Read-only, one rollup, its definition read from its COVERED file. Throws
  // std::invalid_argument when there is no such rollup.
  static std::unique_ptr<RollupStore> open(const std::filesystem::path& data_dir,
                                           const std::string& name);

  const std::vector<RollupDefinition>& definitions() const { return definitions_; }
  const RollupDefinition* definition(const std::string& name) const;

  // Readings partitions some rollup is behind on, given a snapshot of the readings.
  std::vector<std::string> behind(const Store& readings) const;
  // Recomputes every rollup behind on each of `partitions` (behind()'s answer for the same
  // snapshot) from the snapshot, one read of a partition's winners for all of them: up to
  // `threads` partitions at once (each thread reads its own), written one after the other;
  // `each` after each (for progress). Throws what the store or the writes throw.
  std::vector<RollupRefresh> catch_up(const Store& readings,
                                      const std::vector<std::string>& partitions,
                                      const std::function<void(const RollupRefresh&)>& each = {},
                                      unsigned threads = 1);
  // Every partition behind, one at a time.
  std::vector<RollupRefresh> catch_up(const Store& readings) {
    return catch_up(readings, behind(readings));
  }

  // The rows of rollup `name` matching filter (tenant, nmi, suffix, [from, to) on
  // period_start), a partition at a time, in row order.
  void query(const std::string& name, const QueryFilter& filter,
             const std::function<void(const std::vector<RecordRow>&)>& fn) const;

 private:
  RollupStore() = default;
  struct Rollup;
  // A refresh in steps: what is due (reads `covered`), the builders fed (reads only the
  // snapshot: any thread), then the rows written and `covered` (one at a time).
  struct Computed {
    std::string partition;
    std::uint64_t id = 0;  // the newest readings part of the partition, 0 = it is gone
    std::vector<Rollup*> due;
    std::vector<RollupBuilder> builders;  // per rollup due, fed the partition's winners
    std::uint64_t readings = 0;
  };
  Computed due(const std::string& partition,
               const std::map<std::string, std::uint64_t>& newest) const;
  static void compute(const Store& readings, Computed& computed);
  RollupRefresh apply(Computed&& computed);
  void save_covered(Rollup& rollup);
  static std::map<std::string, std::uint64_t> newest_parts(const Store& readings);

  std::filesystem::path root_;
  StoreOptions options_;
  std::vector<RollupDefinition> definitions_;
  std::vector<std::unique_ptr<Rollup>> rollups_;
};

}  // namespace meterd::storage
