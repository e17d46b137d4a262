// meterd generate: writes a deterministic synthetic NEM12 file (protocol/nem12_generator)
// and prints on stderr what a correct reader must make of it.
#include <charconv>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "app/commands.hpp"
#include "app/nem12_file.hpp"

namespace meterd::app {
namespace {

constexpr const char* kUsage =
    "usage: meterd generate [--nmis N] [--days D] [--interval 5|15|30] [--seed S]\n"
    "                       [--suffixes E1,B1] [--start CCYYMMDD] [--v-days F] [--b2b F]\n"
    "                       [--malformed F] [--resent F] [--crlf] -o FILE\n"
    "  Writes a valid NEM12 file, the same bytes for the same options. F is a fraction of days:\n"
    "  --v-days    V days resolved by 400 records (default 0.05)\n"
    "  --b2b       days followed by a 500 record (default 0.05)\n"
    "  --malformed days with a defect (bad value, too few values, wrapped 300, or an unknown\n"
    "              record after the day) (default 0)\n"
    "  --resent    days sent again at the end with a newer UpdateDateTime (default 0)\n"
    "  -o FILE     output path, '-' for stdout\n"
    "  Prints the expected readings, rejected days etc. on stderr. Exit 0, or 2 on error.\n";

template <class Number>
bool parse_number(std::string_view text, Number& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

std::vector<std::string> split_suffixes(std::string_view text) {
  std::vector<std::string> suffixes;
  while (!text.empty()) {
    const auto comma = text.find(',');
    suffixes.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return suffixes;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "meterd generate: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

}  // namespace

int run_generate(int argc, char** argv) {
  GeneratorOptions options;
  std::string output;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--crlf") {
      options.crlf = true;
      continue;
    }
    if (i + 1 >= argc) return usage_error("missing value after " + std::string(arg));
    const std::string_view value = argv[++i];
    bool ok = true;
    if (arg == "--nmis") {
      ok = parse_number(value, options.nmis);
    } else if (arg == "--days") {
      ok = parse_number(value, options.days);
    } else if (arg == "--interval") {
      ok = parse_number(value, options.interval_minutes);
    } else if (arg == "--seed") {
      ok = parse_number(value, options.seed);
    } else if (arg == "--v-days") {
      ok = parse_number(value, options.v_day_fraction);
    } else if (arg == "--b2b") {
      ok = parse_number(value, options.b2b_fraction);
    } else if (arg == "--malformed") {
      ok = parse_number(value, options.malformed_fraction);
    } else if (arg == "--resent") {
      ok = parse_number(value, options.resent_day_fraction);
    } else if (arg == "--suffixes") {
      options.suffixes = split_suffixes(value);
    } else if (arg == "--start") {
      options.start_date = value;
    } else if (arg == "-o" || arg == "--output") {
      output = value;
    } else {
      return usage_error("unknown option " + std::string(arg));
    }
    if (!ok) return usage_error("bad value '" + std::string(value) + "' for " + std::string(arg));
  }
  if (output.empty()) return usage_error("no output file (-o FILE, or -o - for stdout)");

  try {
    GeneratorStats stats;
    if (output == "-") {
      stats = generate_nem12(options, [](std::string_view chunk) {
        if (std::fwrite(chunk.data(), 1, chunk.size(), stdout) != chunk.size())
          throw std::runtime_error("cannot write to stdout");
      });
      if (std::fflush(stdout) != 0) throw std::runtime_error("cannot write to stdout");
    } else {
      stats = generate_nem12_file(options, output);
    }
    std::fprintf(stderr,
                 "generated %s: %llu bytes, %llu lines, %llu readings in %llu valid days, "
                 "%llu malformed days, %llu resent days, %llu unknown records, %llu 500 "
                 "records, value sum %.3f\n",
                 output.c_str(), static_cast<unsigned long long>(stats.bytes),
                 static_cast<unsigned long long>(stats.lines),
                 static_cast<unsigned long long>(stats.readings),
                 static_cast<unsigned long long>(stats.days),
                 static_cast<unsigned long long>(stats.malformed_days),
                 static_cast<unsigned long long>(stats.resent_days),
                 static_cast<unsigned long long>(stats.unknown_records),
                 static_cast<unsigned long long>(stats.b2b_events), stats.value_sum);
  } catch (const std::invalid_argument& e) {
    return usage_error(e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd generate: %s\n", e.what());
    return 2;
  }
  return 0;
}

}  // namespace meterd::app
