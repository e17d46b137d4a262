// meterd audit verify --data-dir DIR
// meterd audit show --data-dir DIR [--tenant T] [--kind K] [--from TIME] [--to TIME]
//
// The data directory's audit trail (storage/audit_log.hpp): verify checks every record's hash,
// the chain and the head file and names each problem by line and seq; show prints the records
// as JSON lines, filtered. Both read the log as it is (no lock): the daemon may be running.
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "app/arg_reader.hpp"
#include "app/commands.hpp"
#include "protocol/reading_format.hpp"
#include "storage/audit_log.hpp"

namespace meterd::app {
namespace {

constexpr const char* kUsage =
    "usage: meterd audit verify --data-dir DIR\n"
    "       meterd audit show --data-dir DIR [--tenant T] [--kind K] [--from TIME] [--to TIME]\n"
    "  verify: checks the hash of every record, the chain and AUDIT.head; prints each problem\n"
    "  with its line and seq, and the last record's hash (keep it elsewhere to prove later\n"
    "  that nothing before it changed). exit status: 0 intact, 1 problems, 2 usage or I/O.\n"
    "  show: the records as JSON lines; TIME is UTC ISO-8601 or a date (2026-12-01), --from\n"
    "  inclusive, --to exclusive.\n";

int verify(const std::string& data_dir) {
  const storage::AuditCheck check = storage::verify_audit(data_dir);
  for (const auto& p : check.problems) {
    if (p.line == 0)
      std::printf("AUDIT.head: %s\n", p.what.c_str());
    else
      std::printf("line %llu (seq %llu): %s\n", static_cast<unsigned long long>(p.line),
                  static_cast<unsigned long long>(p.seq), p.what.c_str());
  }
  if (check.torn_tail)
    std::printf(
        "the last line is incomplete (a crash mid-append): the daemon cuts it off and "
        "records that when it next opens the log\n");
  std::printf("%llu records, last seq %llu, last hash %s: %s\n",
              static_cast<unsigned long long>(check.records),
              static_cast<unsigned long long>(check.last_seq), check.last_hash.c_str(),
              check.ok() ? "intact" : "NOT INTACT");
  return check.ok() ? 0 : 1;
}

struct ShowFilter {
  std::string tenant, kind, from, to;
};

std::string json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

int show(const std::string& data_dir, const ShowFilter& f) {
  const std::string tenant = json_string(f.tenant), kind = json_string(f.kind);
  storage::for_each_audit_record(data_dir, [&](const storage::AuditRecord& r) {
    if (!f.tenant.empty() && r.tenant_json != tenant) return;
    if (!f.kind.empty() && r.kind_json != kind) return;
    if (!f.from.empty() && r.time < f.from) return;  // one format: text order is time order
    if (!f.to.empty() && r.time >= f.to) return;
    std::fwrite(r.payload.data(), 1, r.payload.size(), stdout);
    std::fputc('\n', stdout);
  });
  return 0;
}

}  // namespace

int run_audit(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) == "--help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string_view action = argv[1];
  std::string data_dir;
  ShowFilter filter;
  try {
    for (ArgReader args(argc - 1, argv + 1); args.next();) {
      if (args.is("--help")) {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (args.is("--data-dir")) {
        data_dir = args.value();
      } else if (action == "show" && args.is("--tenant")) {
        filter.tenant = args.value();
      } else if (action == "show" && args.is("--kind")) {
        filter.kind = args.value();
      } else if (action == "show" && args.is("--from")) {
        filter.from = args.value();
      } else if (action == "show" && args.is("--to")) {
        filter.to = args.value();
      } else {
        args.unknown();
      }
    }
    if (data_dir.empty()) throw std::invalid_argument("--data-dir is required");
    if (action != "verify" && action != "show")
      throw std::invalid_argument("expected verify or show, got '" + std::string(action) + "'");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd audit: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    return action == "verify" ? verify(data_dir) : show(data_dir, filter);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd audit: %s\n", e.what());
    return 2;
  }
}

}  // namespace meterd::app
