// Human and JSON renderings of a FileReport, shared by `parse`, `ingest` and the spool reports.
#pragma once

#include <string>

#include "protocol/file_report.hpp"

namespace meterd::app {

std::string report_to_text(const FileReport& report);
std::string report_to_json(const FileReport& report);

}  // namespace meterd::app
