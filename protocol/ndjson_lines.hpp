// Readings as NDJSON request lines (docs/http.md "NDJSON schema"), for the HTTP bench, the
// NDJSON decoder bench and tests. Three forms of the same data:
//   full     one reading per line, every field, as `meterd query --format json` prints it
//   lean     one reading per line, optional fields left out when null or empty
//   compact  one line per run of consecutive intervals ("values": [...])
#pragma once

#include <string>
#include <string_view>

#include "protocol/nem12_generator.hpp"
#include "protocol/reading_batch.hpp"

namespace meterd {

enum class NdjsonForm { full, lean, compact };

// "full", "lean", "compact"; throws std::invalid_argument for anything else.
NdjsonForm ndjson_form_from(std::string_view name);
const char* to_string(NdjsonForm form);

// Appends every reading of `batch` to `out` as lines of `form`.
void append_ndjson(std::string& out, const ReadingBatch& batch, NdjsonForm form);

// Generated NEM12 data (read by the real reader) as NDJSON of `form`, held in memory;
// `readings` (if given) gets how many readings it holds.
std::string generated_ndjson(const GeneratorOptions& options, NdjsonForm form,
                             std::uint64_t* readings = nullptr);

}  // namespace meterd
