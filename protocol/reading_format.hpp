// Text forms of a reading shared by `meterd parse`, `meterd query` and the HTTP API, so that
// every surface prints the same columns the same way.
#pragma once

#include <string>

#include "protocol/nem_time.hpp"
#include "protocol/reading_batch.hpp"

namespace meterd {

// nmi,suffix,interval_start,interval_minutes,value,uom,quality,method,reason_code,
// reason_description,update_datetime,msats_load_datetime,register_id,meter_serial,file_created,line
void append_csv_header(std::string& out);
void append_csv_row(std::string& out, const ReadingRow& row);
// One JSON object per reading (NDJSON), same field names as the CSV header.
void append_json_row(std::string& out, const ReadingRow& row);

// NEM13 register-read periods (250 + 550) and NEM12 B2B events (500), for `meterd parse
// --output register-reads|b2b-events`: CSV with a header, or one JSON object per line.
void append_register_read_csv_header(std::string& out);
void append_register_read(std::string& out, const RegisterReadPeriod& read, bool json);
void append_b2b_event_csv_header(std::string& out);
void append_b2b_event(std::string& out, const B2BEvent& event, bool json);

// Shortest text that reads back as the same double.
void append_double(std::string& out, double value);
// Field text for CSV: quoted only if it holds a comma, quote or line break.
void append_csv_field(std::string& out, std::string_view text);
// A JSON string literal (RFC 8259), the one escaper of every JSON that meterd writes (rows,
// reports, logs, HTTP answers): the short escapes \" \\ \n \r \t \b \f, \u00XX for the other
// control bytes, everything else (UTF-8 included) as it is.
void append_json_string(std::string& out, std::string_view text);

}  // namespace meterd
