// The JSON ingest report written for every file: counts, rejected days with line and reason,
// warnings, timings, content hash.
#pragma once

#include <string>

#include "actors/intake.hpp"

namespace meterd::app {

std::string ingest_report_json(const actors::ClaimedFile& file, const actors::FileOutcome& outcome);

}  // namespace meterd::app
