// The JSON ingest report written for every file: counts, rejected days with line and reason,
// warnings, timings, content hash.
#pragma once

#include <string>
#include <string_view>

#include "actors/intake.hpp"

namespace meterd::app {

std::string ingest_report_json(const actors::ClaimedFile& file, const actors::FileOutcome& outcome);
// The audit trail's fields of an ingest (storage/audit_log.hpp): source, file, sha256, counts,
// outcome; JSON members without the braces.
std::string ingest_audit_fields(const actors::ClaimedFile& file, const actors::FileOutcome& outcome,
                                std::string_view source);

}  // namespace meterd::app
