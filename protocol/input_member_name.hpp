// Whether a name found inside an archive is safe to carry further. Members are never written to
// disk here, but their names end up in reports, logs and (later) storage paths, so a name that
// would escape a directory or corrupt a log line is refused at the door.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace meterd {

// Why `name` is unsafe (absolute, "..", control characters, empty, longer than `max_bytes`), or
// an empty string if it is fine.
std::string unsafe_member_name_reason(std::string_view name, std::size_t max_bytes);

// `name` fit for messages and logs, safe or not: control characters escaped as \xNN, hostile
// lengths cut short with "...". Unchanged for any name that passes the check above.
std::string printable_member_name(std::string_view name);

}  // namespace meterd
