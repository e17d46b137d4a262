#include "actors/intake.hpp"

namespace meterd::actors {

const char* to_string(FileStatus status) {
  switch (status) {
    case FileStatus::durable:
      return "durable";
    case FileStatus::rejected:
      return "rejected";
    case FileStatus::dead_letter:
      return "dead_letter";
    case FileStatus::failed:
      return "failed";
    case FileStatus::duplicate:
      return "duplicate";
    case FileStatus::parked:
      return "parked";
  }
  return "unknown";
}

}  // namespace meterd::actors
