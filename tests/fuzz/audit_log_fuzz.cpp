// libFuzzer target for the audit trail's reader (storage/audit_log.hpp): the input is an AUDIT
// file (and, after a first NUL byte, an AUDIT.head), as a tampered or torn data directory may
// hold. Built and run by scripts/fuzz.sh next to the parsers' targets.
//
// Beyond "no crash, no sanitizer report, no exception but a system_error" it checks that
//   * every record for_each_audit_record gives has its fields inside its payload,
//   * verify counts no more records than there are lines,
//   * a log that verifies intact (torn tail or not) still does after the daemon opens it and
//     appends a record: opening never breaks a good chain.
// With METERD_FUZZ_SEED_DIR set, LLVMFuzzerInitialize writes seeds there: a log of a few records
// written by AuditLog, with and without its head file, and torn.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>

#include "storage/audit_log.hpp"

namespace {

namespace fs = std::filesystem;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "audit_log_fuzz: invariant broken: %s\n", what);
  std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// Removed when the fuzzer exits.
const fs::path& scratch() {
  struct Dir {
    fs::path path = fs::temp_directory_path() / ("meterd-audit-fuzz-" + std::to_string(::getpid()));
    Dir() { fs::create_directories(path); }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* seeds = std::getenv("METERD_FUZZ_SEED_DIR");
  if (!seeds) return 0;
  const fs::path dir = scratch() / "seed";
  fs::remove_all(dir);
  {
    meterd::storage::AuditLog log(dir);
    log.append("ingest", "retailer-a", "sha256:0123456789ab", "\"file\":\"a.csv\",\"rows\":3");
    log.append("query", "", "", "\"query\":\"nmi=\\\"x\\\"\",\"rows\":0");
    log.append("refused", "", "", "\"status\":401");
  }
  std::ifstream in(dir / "AUDIT", std::ios::binary);
  const std::string audit((std::istreambuf_iterator<char>(in)), {});
  std::ifstream head_in(dir / "AUDIT.head", std::ios::binary);
  const std::string head((std::istreambuf_iterator<char>(head_in)), {});
  auto seed = [&](const char* name, const std::string& bytes) {
    std::ofstream(fs::path(seeds) / name, std::ios::binary) << bytes;
  };
  seed("intact_with_head", audit + std::string(1, '\0') + head);
  seed("intact_no_head", audit);
  seed("torn_with_head", audit.substr(0, audit.size() - 20) + std::string(1, '\0') + head);
  fs::remove_all(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  const std::string_view log = input.substr(0, nul);
  const fs::path& dir = scratch();
  fs::remove(dir / "AUDIT.head");
  std::ofstream(dir / "AUDIT", std::ios::binary | std::ios::trunc) << log;
  if (nul != std::string_view::npos)
    std::ofstream(dir / "AUDIT.head", std::ios::binary | std::ios::trunc) << input.substr(nul + 1);

  std::uint64_t lines = 0;
  for (char c : log) lines += c == '\n';
  if (!log.empty() && log.back() != '\n') ++lines;
  try {
    meterd::storage::for_each_audit_record(dir, [&](const meterd::storage::AuditRecord& r) {
      if (!inside(r.time, r.payload) || !inside(r.kind_json, r.payload) ||
          !inside(r.tenant_json, r.payload))
        broken("a field outside its payload");
    });
    const auto before = meterd::storage::verify_audit(dir);
    if (before.records > lines) broken("more records than lines");
    if (before.ok()) {
      {
        meterd::storage::AuditLog opened(dir);
        opened.append("fuzz", "t", "", "\"n\":1");
      }
      const auto after = meterd::storage::verify_audit(dir);
      if (!after.ok() || after.torn_tail) broken("opening an intact log broke its chain");
      if (after.last_seq <= before.last_seq) broken("an append did not advance the seq");
    }
  } catch (const std::system_error&) {
    // I/O of the scratch directory: not the input's fault
  }
  return 0;
}
