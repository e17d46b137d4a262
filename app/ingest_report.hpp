// The JSON ingest report written for every file: counts, rejected days with line and reason,
// warnings, timings, content hash.
#pragma once

#include <string>

#include "actors/intake.hpp"
#include "storage/audit_log.hpp"

namespace meterd::app {

std::string ingest_report_json(const actors::ClaimedFile& file, const actors::FileOutcome& outcome);
// Who a file came from, for the audit trail.
struct IngestOrigin {
  std::string source = "spool";  // "http", "cli"
  std::string token;             // TokenAuth::token_id, never the token (the tenant is the file's)
};

// Records a finished file in the audit trail (storage/audit_log.hpp; none: nothing): source,
// file, sha256, counts, outcome. A failed write is logged as an error: the ingest stands.
void audit_ingest(storage::AuditLog* audit, const actors::ClaimedFile& file,
                  const actors::FileOutcome& outcome, const IngestOrigin& origin);

}  // namespace meterd::app
