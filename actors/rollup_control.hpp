// The hand-over of rollup definitions to the rollup actor: a reload (SIGHUP, POST
// /v1/admin/reload) offers a checked set; the actor takes it at its next round, starts the new
// ones from the stored readings (backfill) and stops the removed ones. What the actor does is
// in Metrics::rollups.
#pragma once

#include <mutex>
#include <optional>
#include <vector>

#include "storage/rollup.hpp"

namespace meterd::actors {

class RollupControl {
 public:
  explicit RollupControl(std::vector<storage::RollupDefinition> initial)
      : pending_(std::move(initial)) {}
  void offer(std::vector<storage::RollupDefinition> definitions) {
    std::lock_guard lock(mutex_);
    pending_ = std::move(definitions);
  }
  std::optional<std::vector<storage::RollupDefinition>> take() {
    std::lock_guard lock(mutex_);
    auto out = std::move(pending_);
    pending_.reset();
    return out;
  }

 private:
  std::mutex mutex_;
  std::optional<std::vector<storage::RollupDefinition>> pending_;
};

}  // namespace meterd::actors
