// meterd query --data-dir DIR [--table readings|register-reads|b2b-events] [--nmi N]
//              [--suffix S] [--from DATE] [--to DATE] [--format csv|json|parquet]
//              [--output FILE]
//
// The newest version of every reading (merge-on-read over all parts), ordered by
// (nmi, suffix, interval_start), or the winner of every register read or B2B event. Opens the
// data directory read-only, so it can run next to the daemon. CSV/JSON rows are exactly what
// `meterd parse` prints.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "app/commands.hpp"
#include "protocol/nem_time.hpp"
#include "protocol/reading_format.hpp"
#include "storage/part_writer.hpp"
#include "storage/partition.hpp"
#include "storage/record_part.hpp"
#include "storage/rollup_store.hpp"
#include "storage/store.hpp"

namespace meterd::app {
namespace {

constexpr const char* kUsage =
    "usage: meterd query --data-dir DIR [--table readings|register-reads|b2b-events]\n"
    "                    [--tenant T] [--nmi N] [--suffix S] [--from DATE] [--to DATE]\n"
    "                    [--format csv|json|parquet] [--output FILE]\n"
    "       meterd query --data-dir DIR --rollup NAME [--tenant T] [--nmi N] [--suffix S]\n"
    "                    [--from DATE] [--to DATE] [--format csv|json|parquet] [--output FILE]\n"
    "  --rollup NAME: the rows of a rollup (docs/rollups.md); --from/--to on period_start.\n"
    "  Prints the newest version of every stored reading, ordered by nmi, suffix, interval.\n"
    "  --tenant: whose readings (readings/tenant=T/...); default: the default tenant's\n"
    "  (readings/month=...). A query never spans tenants.\n"
    "  --table register-reads: NEM13 register reads (250 + 550), the winner of each nmi,\n"
    "  suffix, register, meter serial and read time; --from/--to on the current read's time.\n"
    "  --table b2b-events: NEM12 B2B events (500), the winner of each nmi, suffix, interval\n"
    "  date, TransCode, RetServiceOrder and ReadDateTime; --from/--to on the interval date.\n"
    "  The record tables print as csv or json.\n"
    "  DATE is YYYY-MM-DD or YYYYMMDD (NEM midnight, UTC+10) or YYYY-MM-DDTHH:MM[:SS] with an\n"
    "  optional Z or +HH:MM offset (NEM time if none). --from is inclusive, --to exclusive.\n"
    "  --format csv (default, with header), json (one object per line), parquet (one file,\n"
    "  the storage schema; needs --output or a non-terminal stdout).\n"
    "  exit status: 0 ok, 2 usage error or unreadable/corrupt data\n";

int digits(std::string_view s, std::size_t pos, std::size_t n, bool& ok) {
  int v = 0;
  if (pos + n > s.size()) {
    ok = false;
    return 0;
  }
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') ok = false;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool parse_when(std::string_view s, epoch_seconds& out) {
  bool ok = true;
  std::string compact;
  std::size_t pos;
  if (s.size() >= 10 && s[4] == '-' && s[7] == '-') {
    compact =
        std::string(s.substr(0, 4)) + std::string(s.substr(5, 2)) + std::string(s.substr(8, 2));
    pos = 10;
  } else {
    compact = std::string(s.substr(0, 8));
    pos = 8;
  }
  if (!parse_nem_date(compact, out)) return false;
  if (pos == s.size()) return true;
  if (s[pos] != 'T' && s[pos] != ' ') return false;
  const int hh = digits(s, pos + 1, 2, ok);
  if (pos + 3 >= s.size() || s[pos + 3] != ':') return false;
  const int mm = digits(s, pos + 4, 2, ok);
  pos += 6;
  int ss = 0;
  if (pos < s.size() && s[pos] == ':') ss = digits(s, pos + 1, 2, ok), pos += 3;
  if (!ok || hh > 24 || mm > 59 || ss > 60) return false;
  out += hh * 3600 + mm * 60 + ss;
  if (pos == s.size()) return true;  // NEM time
  if (s.substr(pos) == "Z") {
    out += kNemOffsetSeconds;
    return true;
  }
  if (s.size() - pos == 6 && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    const int oh = digits(s, pos + 1, 2, ok), om = digits(s, pos + 4, 2, ok);
    const epoch_seconds offset = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    out += kNemOffsetSeconds - offset;
    return ok;
  }
  return false;
}

// --rollup NAME: its rows as CSV, JSON lines or one Parquet file of the rollup's schema.
int query_rollup(const std::string& data_dir, const std::string& name,
                 const storage::QueryFilter& filter, const std::string& format,
                 const std::string& output) {
  try {
    const auto rollups = storage::RollupStore::open(data_dir, name);
    const storage::RollupDefinition& d = rollups->definitions().front();
    if (format == "parquet") {
      if (output.empty() && ::isatty(1)) {
        std::fputs("meterd query: refusing to write Parquet to a terminal (use --output)\n",
                   stderr);
        return 2;
      }
      std::vector<storage::RecordRow> all;  // one row group: a rollup is per period, not reading
      rollups->query(name, filter, [&](const std::vector<storage::RecordRow>& rows) {
        all.insert(all.end(), rows.begin(), rows.end());
      });
      const int fd = output.empty()
                         ? 1
                         : ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) {
        std::fprintf(stderr, "meterd query: cannot create %s: %s\n", output.c_str(),
                     std::strerror(errno));
        return 2;
      }
      storage::write_record_part(fd, d.spec().columns, d.spec().sort_key, all);
      if (fd != 1 && ::fsync(fd) == 0) ::close(fd);
      return 0;
    }
    std::FILE* out = output.empty() ? stdout : std::fopen(output.c_str(), "wb");
    if (!out) {
      std::fprintf(stderr, "meterd query: cannot create %s\n", output.c_str());
      return 2;
    }
    const bool json = format == "json";
    std::string buf;
    if (!json) append_rollup_csv_header(buf, d);
    rollups->query(name, filter, [&](const std::vector<storage::RecordRow>& rows) {
      for (const auto& row : rows) {
        append_rollup_row(buf, d, row, json);
        if (buf.size() > (1u << 20)) std::fwrite(buf.data(), 1, buf.size(), out), buf.clear();
      }
    });
    std::fwrite(buf.data(), 1, buf.size(), out);
    out == stdout ? std::fflush(out) : std::fclose(out);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd query: %s\n", e.what());
    return 2;
  }
}

}  // namespace

int run_query(int argc, char** argv) {
  std::string data_dir, format = "csv", output, table = "readings";
  storage::QueryFilter filter;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a != "--data-dir" && a != "--tenant" && a != "--nmi" && a != "--suffix" && a != "--from" &&
        a != "--to" && a != "--format" && a != "--output" && a != "--table" && a != "--rollup") {
      std::fprintf(stderr, "meterd query: unknown argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
    if (!(v = value())) {
      std::fprintf(stderr, "meterd query: %s needs a value\n%s", argv[i], kUsage);
      return 2;
    }
    if (a == "--data-dir")
      data_dir = v;
    else if (a == "--tenant") {
      filter.tenant = v;
      if (!storage::valid_tenant(filter.tenant)) {
        std::fprintf(stderr, "meterd query: --tenant: '%s' is not a tenant name\n", v);
        return 2;
      }
    } else if (a == "--nmi")
      filter.nmi = v;
    else if (a == "--suffix")
      filter.suffix = v;
    else if (a == "--format")
      format = v;
    else if (a == "--output")
      output = v;
    else if (a == "--table")
      table = v;
    else if (a == "--rollup")
      table = "rollup:" + std::string(v);
    else {
      epoch_seconds t;
      if (!parse_when(v, t)) {
        std::fprintf(stderr, "meterd query: bad date '%s' for %s\n", v, a.data());
        return 2;
      }
      (a == "--from" ? filter.from : filter.to) = t;
    }
  }
  if (data_dir.empty() || (format != "csv" && format != "json" && format != "parquet") ||
      (table != "readings" && table != "register-reads" && table != "b2b-events" &&
       !table.starts_with("rollup:"))) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (table.starts_with("rollup:"))
    return query_rollup(data_dir, table.substr(7), filter, format, output);
  if (table != "readings" && format == "parquet") {
    std::fprintf(stderr,
                 "meterd query: --format parquet is for readings; the %s table's parts are "
                 "Parquet already (DATA_DIR/%s/month=*/*.parquet)\n",
                 table.c_str(), table == "b2b-events" ? "b2b_events" : "register_reads");
    return 2;
  }
  if (!std::filesystem::is_directory(std::filesystem::path(data_dir) / "manifest")) {
    std::fprintf(stderr, "meterd query: %s is not a meterd data directory (no manifest/)\n",
                 data_dir.c_str());
    return 2;
  }
  try {
    storage::StoreOptions options;
    options.read_only = true;
    storage::Store store(data_dir, options);
    if (format == "parquet") {
      int fd = 1;
      if (!output.empty()) {
        fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
          std::fprintf(stderr, "meterd query: cannot create %s: %s\n", output.c_str(),
                       std::strerror(errno));
          return 2;
        }
      } else if (::isatty(1)) {
        std::fputs("meterd query: refusing to write Parquet to a terminal (use --output)\n",
                   stderr);
        return 2;
      }
      storage::PartWriter writer(fd);
      store.query_with_ingest(filter,
                              [&](const ReadingBatch& b, std::span<const std::int64_t> ingest) {
                                writer.add(b, ingest);
                              });
      writer.finish();
      if (fd != 1 && ::fsync(fd) == 0) ::close(fd);
      return 0;
    }
    std::FILE* out = stdout;
    if (!output.empty() && !(out = std::fopen(output.c_str(), "wb"))) {
      std::fprintf(stderr, "meterd query: cannot create %s\n", output.c_str());
      return 2;
    }
    std::string buf;
    const bool json = format == "json";
    auto spill = [&] {
      if (buf.size() > (1u << 20)) std::fwrite(buf.data(), 1, buf.size(), out), buf.clear();
    };
    if (table == "register-reads") {
      if (!json) append_register_read_csv_header(buf);
      store.query_register_reads(filter, [&](const std::vector<RegisterReadPeriod>& reads) {
        for (const auto& read : reads) append_register_read(buf, read, json), spill();
      });
    } else if (table == "b2b-events") {
      if (!json) append_b2b_event_csv_header(buf);
      store.query_b2b_events(filter, [&](const std::vector<B2BEvent>& events) {
        for (const auto& event : events) append_b2b_event(buf, event, json), spill();
      });
    } else {
      if (!json) append_csv_header(buf);
      store.query(filter, [&](const ReadingBatch& batch) {
        batch.for_each([&](const ReadingRow& row) {
          json ? append_json_row(buf, row) : append_csv_row(buf, row);
          spill();
        });
      });
    }
    std::fwrite(buf.data(), 1, buf.size(), out);
    if (out != stdout)
      std::fclose(out);
    else
      std::fflush(out);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd query: %s\n", e.what());
    return 2;
  }
}

}  // namespace meterd::app
