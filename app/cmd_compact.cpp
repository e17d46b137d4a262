// meterd compact --data-dir DIR
//
// Merges each partition's parts into one duplicate-free part (newest version per key, the
// same merge as queries use) and swaps the manifest entries in one atomic record. Needs the
// data directory's lock: stop the daemon first (or run it from the daemon's schedule).
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "app/commands.hpp"
#include "storage/audit_log.hpp"
#include "storage/store.hpp"

namespace meterd::app {

int run_compact(int argc, char** argv) {
  std::string data_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--data-dir" && i + 1 < argc) {
      data_dir = argv[++i];
    } else {
      std::fputs(
          "usage: meterd compact --data-dir DIR\n"
          "  Merges each partition's parts into one part holding only the newest version of\n"
          "  every reading. exit status: 0 ok, 2 usage error or failure\n",
          a == "--help" ? stdout : stderr);
      return a == "--help" ? 0 : 2;
    }
  }
  if (data_dir.empty()) {
    std::fputs("meterd compact: --data-dir is required\n", stderr);
    return 2;
  }
  try {
    storage::Store store(data_dir);
    for (const auto& m : store.recovery().messages)
      std::fprintf(stderr, "recovery: %s\n", m.c_str());
    storage::AuditLog audit(data_dir);  // after the store: under its lock
    const auto before = store.parts().size();
    const auto partitions = store.compact();
    const auto after = store.parts().size();
    audit.append("compaction", "", "",
                 "\"source\":\"cli\",\"partitions\":" + std::to_string(partitions) +
                     ",\"parts_in\":" + std::to_string(before) +
                     ",\"parts_left\":" + std::to_string(after));
    std::fprintf(stderr, "meterd compact: %llu partition(s) compacted, %zu part(s) -> %zu\n",
                 static_cast<unsigned long long>(partitions), before, after);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd compact: %s\n", e.what());
    return 2;
  }
}

}  // namespace meterd::app
