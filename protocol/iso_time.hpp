// ISO-8601 instants as the JSON surfaces write them ("2005-03-01T00:30:00+10:00"), parsed back
// into epoch seconds: the NDJSON ingest schema and the HTTP query parameters.
#pragma once

#include <string>
#include <string_view>

#include "protocol/reading_batch.hpp"

namespace meterd {

// Accepts YYYY-MM-DDThh:mm[:ss] followed by Z or ±hh:mm (a space may replace the T). Without an
// offset the time is NEM time (UTC+10) when `nem_if_no_offset`, otherwise it is refused.
// A bare date YYYY-MM-DD (or YYYYMMDD) is NEM midnight when `allow_date`.
bool parse_iso_time(std::string_view text, epoch_seconds& out, bool nem_if_no_offset = false,
                    bool allow_date = false);

// The current UTC time, "2026-12-07T14:59:34.598Z", with `fraction_digits` (3 or 6) decimals:
// the daemon's log lines and audit records.
void append_utc_now(std::string& out, int fraction_digits);

}  // namespace meterd
