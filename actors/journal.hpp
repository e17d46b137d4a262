// The safety path's staging journal: one file per held batch, written temp -> fsync -> rename ->
// fsync dir, so a held batch survives a crash. Replayed (written to the store) at start-up.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "actors/batch_types.hpp"

namespace meterd::actors::journal {

// Durably writes `batch` into `dir` and returns the file's path. Throws std::system_error.
std::filesystem::path save(const std::filesystem::path& dir, const SealedBatch& batch);
// Reads a journal file back; nullopt if it is not a complete journal file.
std::optional<SealedBatch> load(const std::filesystem::path& file);
// Journal files in `dir`, oldest (lowest name) first.
std::vector<std::filesystem::path> list(const std::filesystem::path& dir);

}  // namespace meterd::actors::journal
