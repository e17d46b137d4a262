#include "storage/rollup.hpp"

#include <algorithm>
#include <map>
#include <sstream>
#include <stdexcept>

#include "protocol/nem_time.hpp"
#include "protocol/reading_format.hpp"
#include "storage/partition.hpp"

namespace meterd::storage {
namespace {

constexpr RecordColumn kValueColumns[] = {
    {"nmi", Kind::kString},
    {"suffix", Kind::kString},
    {"uom", Kind::kString},
    {"quality", Kind::kString},
    {"period_start", Kind::kTimestamp},
    {"value", Kind::kDouble},
    {"readings", Kind::kInt64},
    {"at", Kind::kTimestamp, true, kNoTime},
};
constexpr RecordColumn kCompletenessColumns[] = {
    {"nmi", Kind::kString},     {"suffix", Kind::kString},          {"uom", Kind::kString},
    {"quality", Kind::kString}, {"period_start", Kind::kTimestamp}, {"value", Kind::kDouble},
    {"readings", Kind::kInt64}, {"expected", Kind::kInt64},         {"share_a", Kind::kDouble},
    {"share_e", Kind::kDouble}, {"share_sf", Kind::kDouble},        {"share_n", Kind::kDouble},
    {"share_v", Kind::kDouble}, {"share_missing", Kind::kDouble},
};
constexpr std::string_view kSortKey = "nmi,suffix,uom,quality,period_start";
const RecordTableSpec kValueSpec{"rollups", kValueColumns, 5, 8, kRuPeriodStart, kSortKey};
const RecordTableSpec kCompletenessSpec{"rollups", kCompletenessColumns, 5,
                                        14,        kRuPeriodStart,       kSortKey};

constexpr epoch_seconds kHalfHour = 1800, kDay = 86400;

epoch_seconds floor_to(epoch_seconds t, epoch_seconds step) {
  const epoch_seconds local = t + kNemOffsetSeconds;
  const epoch_seconds r = ((local % step) + step) % step;
  return t - r;
}

epoch_seconds period_of(RollupPeriod p, epoch_seconds t) {
  switch (p) {
    case RollupPeriod::half_hour:
      return floor_to(t, kHalfHour);
    case RollupPeriod::day:
      return floor_to(t, kDay);
    case RollupPeriod::month:
      break;
  }
  return month_start(month_of(t));
}

// Intervals of `minutes` in the period starting at `start`.
std::int64_t intervals_in(RollupPeriod p, epoch_seconds start, std::uint16_t minutes) {
  const std::int64_t m = std::max<std::int64_t>(1, minutes);
  std::int64_t period_minutes = 30;
  if (p == RollupPeriod::day) period_minutes = 1440;
  if (p == RollupPeriod::month) period_minutes = (month_start(month_of(start) + 1) - start) / 60;
  return std::max<std::int64_t>(1, period_minutes / m);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

RollupDefinition parse_line(const std::string& name, const std::string& body) {
  RollupDefinition d;
  d.name = name;
  if (!valid_rollup_name(name))
    throw std::invalid_argument("rollup name '" + name + "': expected 1 to 64 of [a-z0-9_]");
  std::istringstream in(body);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  if (words.size() < 5 || words[1] != "by" || words[3] != "per")
    throw std::invalid_argument("expected `MEASURE by GROUP,... per PERIOD [where ...]`, got '" +
                                body + "'");
  const std::string& m = words[0];
  if (m == "sum")
    d.measure = RollupMeasure::sum;
  else if (m == "min")
    d.measure = RollupMeasure::min;
  else if (m == "max")
    d.measure = RollupMeasure::max;
  else if (m == "count")
    d.measure = RollupMeasure::count;
  else if (m == "peak")
    d.measure = RollupMeasure::peak;
  else if (m == "completeness")
    d.measure = RollupMeasure::completeness;
  else
    throw std::invalid_argument("measure '" + m +
                                "': expected sum|min|max|count|peak|completeness");
  d.group = 0;
  for (const std::string& g : split(words[2], ',')) {
    if (g == "nmi")
      d.group |= kGroupNmi;
    else if (g == "suffix")
      d.group |= kGroupSuffix;
    else if (g == "uom")
      d.group |= kGroupUom;
    else if (g == "quality")
      d.group |= kGroupQuality;
    else if (g != "tenant")
      throw std::invalid_argument("group '" + g + "': expected nmi|suffix|uom|quality");
  }
  if (d.measure == RollupMeasure::peak &&
      (d.group & (kGroupNmi | kGroupSuffix)) != (kGroupNmi | kGroupSuffix))
    throw std::invalid_argument(
        "peak is the largest 30-minute total of a stream: group by nmi,suffix");
  const std::string& p = words[4];
  if (p == "30min")
    d.period = RollupPeriod::half_hour;
  else if (p == "day")
    d.period = RollupPeriod::day;
  else if (p == "month")
    d.period = RollupPeriod::month;
  else
    throw std::invalid_argument("period '" + p + "': expected 30min|day|month");
  if (d.measure == RollupMeasure::peak && d.period == RollupPeriod::half_hour)
    throw std::invalid_argument("peak per 30min is the 30-minute total itself: use sum");
  std::size_t i = 5;
  if (i < words.size()) {
    if (words[i] != "where")
      throw std::invalid_argument("expected `where`, got '" + words[i] + "'");
    for (++i; i < words.size(); ++i) {
      const auto eq = words[i].find('=');
      const std::string key = words[i].substr(0, eq);
      if (eq == std::string::npos || (key != "suffix" && key != "uom"))
        throw std::invalid_argument("filter '" + words[i] + "': expected suffix=P|P or uom=U|U");
      auto values = split(words[i].substr(eq + 1), '|');
      if (values.empty()) throw std::invalid_argument("filter '" + words[i] + "': no value");
      for (const auto& v : values)
        if (v.find('*') != std::string::npos && (key != "suffix" || v.find('*') != v.size() - 1))
          throw std::invalid_argument("filter '" + words[i] + "': * only ends a suffix prefix");
      (key == "suffix" ? d.suffixes : d.uoms) = std::move(values);
    }
  }
  for (const auto& w : words) d.text += (d.text.empty() ? "" : " ") + w;
  return d;
}

}  // namespace

bool valid_rollup_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

bool RollupDefinition::takes(std::string_view suffix, std::string_view uom) const {
  auto any = [](const std::vector<std::string>& patterns, std::string_view v) {
    if (patterns.empty()) return true;
    for (const std::string& p : patterns)
      if (p.ends_with('*') ? v.starts_with(std::string_view(p).substr(0, p.size() - 1)) : v == p)
        return true;
    return false;
  };
  return any(suffixes, suffix) && any(uoms, uom);
}

const RecordTableSpec& RollupDefinition::spec() const {
  return measure == RollupMeasure::completeness ? kCompletenessSpec : kValueSpec;
}

std::vector<RollupDefinition> parse_rollups(const std::string& text, const std::string& origin) {
  std::vector<RollupDefinition> out;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const auto eq = line.find('=');
    auto trimmed = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t\r"));
      s.erase(s.find_last_not_of(" \t\r") + 1);
      return s;
    };
    try {
      if (eq == std::string::npos) throw std::invalid_argument("expected `NAME = definition`");
      RollupDefinition d = parse_line(trimmed(line.substr(0, eq)), trimmed(line.substr(eq + 1)));
      for (const auto& o : out)
        if (o.name == d.name) throw std::invalid_argument("rollup '" + d.name + "' defined twice");
      out.push_back(std::move(d));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(origin + ":" + std::to_string(number) + ": " + e.what());
    }
  }
  return out;
}

struct RollupBuilder::State {
  const RollupDefinition& def;
  struct Key {
    std::string nmi, suffix, uom, quality;
    epoch_seconds period = 0;
    auto operator<=>(const Key&) const = default;
  };
  struct Acc {
    double sum = 0, best = 0;
    std::int64_t readings = 0, expected = 0;
    epoch_seconds at = kNoTime;
    std::int64_t flags[5] = {0, 0, 0, 0, 0};        // A, E, S/F, N, V
    std::uint64_t last_stream = ~std::uint64_t{0};  // completeness: expected counted per stream
    epoch_seconds window = kNoTime;                 // peak: the open 30-minute window
    double window_sum = 0;
  };
  std::map<Key, Acc> groups;
  std::map<Key, Acc>::iterator last = groups.end();
  Key scratch;
  // The stream (nmi, suffix) of the run being taken, numbered as streams come (in order).
  std::uint64_t stream = 0;
  std::string stream_nmi, stream_suffix;

  explicit State(const RollupDefinition& d) : def(d) {}

  Acc& group_of(std::string_view nmi, std::string_view suffix, std::string_view uom, char quality,
                epoch_seconds period) {
    scratch.nmi.assign(def.group & kGroupNmi ? nmi : std::string_view());
    scratch.suffix.assign(def.group & kGroupSuffix ? suffix : std::string_view());
    scratch.uom.assign(def.group & kGroupUom ? uom : std::string_view());
    scratch.quality.assign(def.group & kGroupQuality ? std::string_view(&quality, 1)
                                                     : std::string_view());
    scratch.period = period;
    // Winners come in (nmi, suffix, time) order: most runs fall in the last group or a new
    // one after it, found without a search.
    if (last != groups.end()) {
      const auto order = scratch <=> last->first;
      if (order == 0) return last->second;
      if (order > 0) {
        last = groups.emplace_hint(groups.end(), scratch, Acc{});
        if (std::next(last) == groups.end()) return last->second;
      }
    }
    last = groups.find(scratch);
    if (last == groups.end()) last = groups.emplace(scratch, Acc{}).first;
    return last->second;
  }

  void close_window(Acc& a) {
    if (a.window == kNoTime) return;
    if (a.at == kNoTime || a.window_sum > a.best) a.best = a.window_sum, a.at = a.window;
    a.window = kNoTime;
    a.window_sum = 0;
  }

  static int flag_index(char q) {
    switch (q) {
      case 'A':
        return 0;
      case 'E':
        return 1;
      case 'S':
      case 'F':
        return 2;
      case 'N':
        return 3;
      default:
        return 4;
    }
  }

  // Readings [from, to) of `run`, all in one period.
  void take(const ReadingBatch& b, const ReadingRun& run, std::uint32_t from, std::uint32_t to,
            epoch_seconds period) {
    const auto nmi = b.strings[run.nmi], suffix = b.strings[run.suffix], uom = b.strings[run.uom];
    Acc& a = group_of(nmi, suffix, uom, run.quality, period);
    const double* v = b.values.data() + run.first_value;
    a.readings += to - from;
    switch (def.measure) {
      case RollupMeasure::sum:
        for (std::uint32_t k = from; k < to; ++k) a.sum += v[k];
        break;
      case RollupMeasure::count:
        break;
      case RollupMeasure::min:
      case RollupMeasure::max:
        for (std::uint32_t k = from; k < to; ++k) {
          const bool better = def.measure == RollupMeasure::min ? v[k] < a.best : v[k] > a.best;
          if (a.at == kNoTime || better) a.best = v[k], a.at = run.interval_start(k);
        }
        break;
      case RollupMeasure::peak:
        for (std::uint32_t k = from; k < to; ++k) {
          const epoch_seconds w = floor_to(run.interval_start(k), kHalfHour);
          if (w != a.window) close_window(a), a.window = w;
          a.window_sum += v[k];
        }
        break;
      case RollupMeasure::completeness: {
        a.flags[flag_index(run.quality)] += to - from;
        // Expected once per stream and period: readings come in stream order.
        if (a.last_stream != stream) {
          a.last_stream = stream;
          a.expected += intervals_in(def.period, period, run.interval_minutes);
        }
        break;
      }
    }
  }

  void add(const ReadingBatch& b) {
    for (const ReadingRun& run : b.runs) {
      if (run.count == 0 || !def.takes(b.strings[run.suffix], b.strings[run.uom])) continue;
      if (b.strings[run.nmi] != stream_nmi || b.strings[run.suffix] != stream_suffix) {
        stream_nmi.assign(b.strings[run.nmi]);
        stream_suffix.assign(b.strings[run.suffix]);
        ++stream;
      }
      if (def.period != RollupPeriod::half_hour) {  // a run is one day of one stream
        take(b, run, 0, run.count, period_of(def.period, run.first_start));
        continue;
      }
      for (std::uint32_t k = 0; k < run.count;) {
        const epoch_seconds p = floor_to(run.interval_start(k), kHalfHour);
        std::uint32_t end = k + 1;
        while (end < run.count && floor_to(run.interval_start(end), kHalfHour) == p) ++end;
        take(b, run, k, end, p);
        k = end;
      }
    }
  }

  std::vector<RecordRow> finish() {
    const bool completeness = def.measure == RollupMeasure::completeness;
    std::vector<RecordRow> rows;
    rows.reserve(groups.size());
    while (!groups.empty()) {
      auto node = groups.extract(groups.begin());  // each group goes as its row is made
      const Key& key = node.key();
      Acc& a = node.mapped();
      if (def.measure == RollupMeasure::peak) close_window(a);
      RecordRow row(def.spec().columns.size());
      row[kRuNmi].s = key.nmi;
      row[kRuSuffix].s = key.suffix;
      row[kRuUom].s = key.uom;
      row[kRuQuality].s = key.quality;
      row[kRuPeriodStart].i = key.period;
      row[kRuReadings].i = a.readings;
      if (completeness) {
        const double expected = static_cast<double>(std::max(a.expected, a.readings));
        row[kRuExpected].i = static_cast<std::int64_t>(expected);
        row[kRuValue].d = static_cast<double>(a.readings) / expected;
        for (int f = 0; f < 5; ++f)
          row[kRuShareA + static_cast<std::size_t>(f)].d =
              static_cast<double>(a.flags[f]) / expected;
        row[kRuShareMissing].d =
            static_cast<double>(static_cast<std::int64_t>(expected) - a.readings) / expected;
      } else {
        row[kRuAt].i = kNoTime;
        switch (def.measure) {
          case RollupMeasure::sum:
            row[kRuValue].d = a.sum;
            break;
          case RollupMeasure::count:
            row[kRuValue].d = static_cast<double>(a.readings);
            break;
          default:
            row[kRuValue].d = a.best, row[kRuAt].i = a.at;
            break;
        }
      }
      rows.push_back(std::move(row));
    }
    groups.clear();
    last = groups.end();
    return rows;
  }
};

RollupBuilder::RollupBuilder(const RollupDefinition& definition)
    : state_(std::make_unique<State>(definition)) {}
RollupBuilder::~RollupBuilder() = default;
RollupBuilder::RollupBuilder(RollupBuilder&&) noexcept = default;
void RollupBuilder::add(const ReadingBatch& winners) {
  state_->add(winners);
}
std::vector<RecordRow> RollupBuilder::finish() {
  return state_->finish();
}

void append_rollup_csv_header(std::string& out, const RollupDefinition& definition) {
  bool first = true;
  for (const RecordColumn& c : definition.spec().columns) {
    if (!first) out.push_back(',');
    first = false;
    out.append(c.name);
  }
  out.push_back('\n');
}

void append_rollup_row(std::string& out, const RollupDefinition& definition, const RecordRow& row,
                       bool json) {
  const auto columns = definition.spec().columns;
  if (json) out.push_back('{');
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const RecordColumn& c = columns[i];
    if (i) out.push_back(',');
    if (json) {
      append_json_string(out, c.name);
      out.push_back(':');
    }
    const RecordCell& cell = row[i];
    switch (c.kind) {
      case Kind::kString:
        json ? append_json_string(out, cell.s) : append_csv_field(out, cell.s);
        break;
      case Kind::kTimestamp:
        if (cell.i == kNoTime) {
          if (json) out.append("null");
        } else {
          if (json) out.push_back('"');
          append_nem_time(out, cell.i);
          if (json) out.push_back('"');
        }
        break;
      case Kind::kDouble:
        append_double(out, cell.d);
        break;
      default:
        out.append(std::to_string(cell.i));
        break;
    }
  }
  out.append(json ? "}\n" : "\n");
}

}  // namespace meterd::storage
