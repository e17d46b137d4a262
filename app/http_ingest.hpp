// The decoding of a POST /v1/readings body (http_session.hpp): every line is decoded once,
// here, and the batches are kept as a batch file (protocol/batch_file.hpp) that the pipeline
// reads without decoding the JSON again. Once a line is invalid nothing is stored.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/file_report.hpp"
#include "protocol/input_source.hpp"

namespace meterd::app::http_internal {

// At most this many issues go into an answer (the rest are counted, not listed).
inline constexpr std::size_t kMaxIssuesInResponse = 1000;

struct NdjsonBody {
  std::string error;        // the body (or a member of it) could not be read
  bool not_ndjson = false;  // a member is not NDJSON (NEM12, a batch file, ...)
  std::uint64_t readings = 0, rejects = 0;
  FileReport issues;       // the rejects of every member, up to kMaxIssuesInResponse
  std::string batch_file;  // what the pipeline reads instead of the body; empty unless it is
                           // fit to store (readable NDJSON, readings, no rejects)
};

// `body` may be compressed or a zip of NDJSON members, within `limits`. `padded`: the
// NdjsonReader::kPadding bytes after `body` are readable, and a plain body is decoded in place.
// `tenant`: whose readings these are (a line naming another tenant is rejected).
NdjsonBody decode_ndjson_body(std::string_view body, const InputLimits& limits, bool padded = false,
                              std::string_view tenant = {});

}  // namespace meterd::app::http_internal
