#include "protocol/nem12_generator.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "protocol/chunk_writer.hpp"
#include "protocol/nem_time.hpp"
#include "protocol/splitmix64.hpp"

namespace meterd {
namespace {

std::int64_t parse_date8(const std::string& text) {
  const auto bad = [&] { return std::invalid_argument("start_date must be CCYYMMDD: " + text); };
  if (text.size() != 8 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw bad();
  const int y = std::stoi(text.substr(0, 4));
  const unsigned m = static_cast<unsigned>(std::stoi(text.substr(4, 2)));
  const unsigned d = static_cast<unsigned>(std::stoi(text.substr(6, 2)));
  const std::int64_t days = days_from_civil(y, m, d);
  const CivilDate back = civil_from_days(days);
  if (y < 1000 || back.year != y || back.month != m || back.day != d) throw bad();
  return days;
}

// The Date(8) text of every day the file mentions, so the hot path copies instead of formats.
class DateTexts {
 public:
  DateTexts(std::int64_t first_day, std::size_t count) : texts_(count) {
    for (std::size_t i = 0; i < count; ++i) {
      const CivilDate c = civil_from_days(first_day + static_cast<std::int64_t>(i));
      if (c.year > 9999) throw std::invalid_argument("dates beyond the year 9999");
      char* p = texts_[i].data();
      p = ChunkWriter::put_digits(p, static_cast<std::uint32_t>(c.year), 4);
      p = ChunkWriter::put_digits(p, c.month, 2);
      ChunkWriter::put_digits(p, c.day, 2);
    }
  }
  std::string_view operator[](std::size_t i) const { return {texts_.at(i).data(), 8}; }

 private:
  std::vector<std::array<char, 8>> texts_;
};

// One interval value as a meter writes it, trailing comma included, padded to 8 bytes so that
// the hot loop copies it with one fixed-size store.
struct ValueText {
  char text[8];
  std::uint8_t length;
  std::uint32_t milli;  // value × 1000, exact
};

constexpr std::uint32_t kValueBits = 12;
constexpr std::uint32_t kValueCount = 1u << kValueBits;

// Cubic in the index: about 4 % zeros, half the values below 2.048, a tail up to ~16.4, with
// 0–3 decimals ("0", "1.5", "0.123", "12.345") as real MDP files have them.
const std::array<ValueText, kValueCount>& value_table() {
  static const auto table = [] {
    std::array<ValueText, kValueCount> t{};
    for (std::uint32_t i = 0; i < kValueCount; ++i) {
      const auto milli = static_cast<std::uint32_t>(std::uint64_t{i} * i * i >> 22);
      ValueText& v = t[i];
      char* p = std::to_chars(v.text, v.text + 8, milli / 1000).ptr;
      std::uint32_t frac = milli % 1000;
      if (frac != 0) {
        int digits = 3;
        while (frac % 10 == 0) frac /= 10, --digits;
        *p++ = '.';
        p = ChunkWriter::put_digits(p, frac, digits);
      }
      *p++ = ',';
      v.length = static_cast<std::uint8_t>(p - v.text);
      v.milli = milli;
    }
    return t;
  }();
  return table;
}

enum class DayKind : std::uint8_t {
  actual,
  forward_estimate,
  variable,
  // Defects a correct reader rejects the day for; such days carry no 400/500 records.
  bad_value,
  short_values,
  wrapped,
};

struct DayPlan {
  DayKind kind = DayKind::actual;
  bool b2b = false;
  bool unknown_record_after = false;
  bool resent = false;
  std::uint64_t seed = 0;
  bool rejected() const { return kind >= DayKind::bad_value; }
};

constexpr double kForwardEstimateFraction = 0.02;

class Generator {
 public:
  Generator(const GeneratorOptions& options, const ChunkWriter::Output& out)
      : options_(validated(options)),
        intervals_(1440 / options.interval_minutes),
        first_day_(parse_date8(options.start_date)),
        // Updates land up to 2 days after the last IntervalDate, MSATS loads one day later,
        // and the file is created the day after that.
        dates_(first_day_, options.days + 4),
        writer_(out, 256 + 8 * std::size_t{intervals_} + 2 * options.suffixes.size(),
                options.crlf) {}

  GeneratorStats run() {
    write_header();
    for (std::uint32_t nmi = 0; nmi < options_.nmis; ++nmi)
      for (std::uint32_t s = 0; s < options_.suffixes.size(); ++s) {
        write_block_header(nmi, s);
        for (std::uint32_t day = 0; day < options_.days; ++day) write_day(nmi, s, day);
      }
    if (options_.resent_day_fraction > 0) write_resends();
    write_line("900");
    writer_.flush();
    stats_.bytes = writer_.bytes();
    stats_.lines = writer_.lines();
    stats_.value_sum = static_cast<double>(milli_sum_) / 1000.0;
    return stats_;
  }

 private:
  static const GeneratorOptions& validated(const GeneratorOptions& o) {
    if (o.interval_minutes != 5 && o.interval_minutes != 15 && o.interval_minutes != 30)
      throw std::invalid_argument("interval_minutes must be 5, 15 or 30");
    if (o.suffixes.empty()) throw std::invalid_argument("at least one suffix is needed");
    for (std::size_t i = 0; i < o.suffixes.size(); ++i) {
      const std::string& s = o.suffixes[i];
      if (s.size() != 2 || !std::all_of(s.begin(), s.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
          }))
        throw std::invalid_argument("a suffix is 2 characters [0-9A-Z]: '" + s + "'");
      if (std::find(o.suffixes.begin(), o.suffixes.begin() + i, s) != o.suffixes.begin() + i)
        throw std::invalid_argument("duplicate suffix " + s);
    }
    if (o.nmis > 1'000'000'000) throw std::invalid_argument("at most 10^9 NMIs");
    for (double f : {o.v_day_fraction, o.b2b_fraction, o.malformed_fraction, o.resent_day_fraction})
      if (!(f >= 0 && f <= 1)) throw std::invalid_argument("fractions must be in [0, 1]");
    return o;
  }

  std::uint64_t stream_id(std::uint32_t nmi, std::uint32_t suffix) const {
    return std::uint64_t{nmi} * options_.suffixes.size() + suffix;
  }

  // Every decision about a day comes from a hash of (seed, stream, day), so the resend pass can
  // recompute it without storing anything, and the draws are made in a fixed order so that
  // changing one fraction does not reshuffle the others.
  DayPlan plan(std::uint32_t nmi, std::uint32_t suffix, std::uint32_t day) const {
    SplitMix64 r(mix64(mix64(options_.seed, stream_id(nmi, suffix)), day));
    const double u_malformed = r.unit();
    const std::uint32_t defect = r.below(4);
    const double u_variable = r.unit(), u_estimate = r.unit(), u_b2b = r.unit(),
                 u_resent = r.unit();
    DayPlan p;
    p.seed = r.next();
    if (u_variable < options_.v_day_fraction)
      p.kind = DayKind::variable;
    else if (u_estimate < kForwardEstimateFraction)
      p.kind = DayKind::forward_estimate;
    p.b2b = u_b2b < options_.b2b_fraction;
    if (u_malformed < options_.malformed_fraction) {
      switch (defect) {
        case 0:
          p.kind = DayKind::bad_value;
          break;
        case 1:
          p.kind = DayKind::short_values;
          break;
        case 2:
          p.kind = DayKind::wrapped;
          break;
        default:
          p.unknown_record_after = true;
          break;
      }
      if (p.rejected()) p.b2b = false;
    }
    p.resent = u_resent < options_.resent_day_fraction;
    return p;
  }

  void write_line(std::string_view text) {
    writer_.end_line(ChunkWriter::put(writer_.begin_line(), text));
  }

  void write_header() {
    SplitMix64 r(mix64(options_.seed, 100));
    char* p = writer_.begin_line();
    p = ChunkWriter::put(p, "100,NEM12,");
    p = ChunkWriter::put(p, dates_[options_.days + 3]);
    p = ChunkWriter::put_digits(p, r.below(24), 2);
    p = ChunkWriter::put_digits(p, r.below(60), 2);
    p = ChunkWriter::put(p, ",GENMDP,GENRETAIL");
    writer_.end_line(p);
  }

  void write_block_header(std::uint32_t nmi, std::uint32_t suffix_index) {
    const std::string& suffix = options_.suffixes[suffix_index];
    // Unique per file for up to 10^9 NMIs; "6" is Victoria's NMI prefix.
    const auto nmi_number = static_cast<std::uint32_t>(
        (mix64(options_.seed, 200) % 1'000'000'000 + nmi) % 1'000'000'000);
    char* p = writer_.begin_line();
    p = ChunkWriter::put(p, "200,6");
    p = ChunkWriter::put_digits(p, nmi_number, 9);
    *p++ = ',';
    for (const std::string& s : options_.suffixes) p = ChunkWriter::put(p, s);
    *p++ = ',';
    p = ChunkWriter::put(p, suffix);  // RegisterID
    *p++ = ',';
    p = ChunkWriter::put(p, suffix);
    *p++ = ',';
    if (suffix[0] == 'E') *p++ = 'N', *p++ = suffix[1];  // MDMDataStreamIdentifier
    p = ChunkWriter::put(p, ",MTR");
    p = ChunkWriter::put_digits(p, nmi_number % 100'000'000, 8);
    *p++ = ',';
    const bool reactive = std::string_view("JKLPQRX").find(suffix[0]) != std::string_view::npos;
    p = ChunkWriter::put(p, reactive ? "kVArh" : "kWh");
    *p++ = ',';
    p = std::to_chars(p, p + 2, options_.interval_minutes).ptr;
    *p++ = ',';
    if (nmi % 2 == 0) p = ChunkWriter::put(p, dates_[options_.days + 3]);  // NSRD, optional
    writer_.end_line(p);
  }

  static char* put_time(char* p, SplitMix64& r) {
    p = ChunkWriter::put_digits(p, r.below(24), 2);
    p = ChunkWriter::put_digits(p, r.below(60), 2);
    return ChunkWriter::put_digits(p, r.below(60), 2);
  }

  void write_day(std::uint32_t nmi, std::uint32_t suffix, std::uint32_t day) {
    const DayPlan p = plan(nmi, suffix, day);
    SplitMix64 rng(p.seed);
    write_300(day, p.kind, rng, /*resend=*/false);
    if (p.kind == DayKind::variable) write_400s(rng);
    if (p.b2b) write_500(day, rng);
    if (p.unknown_record_after) {
      write_line("999,GENERATOR,unknown record type");
      ++stats_.unknown_records;
    }
  }

  void write_resends() {
    for (std::uint32_t nmi = 0; nmi < options_.nmis; ++nmi)
      for (std::uint32_t s = 0; s < options_.suffixes.size(); ++s) {
        bool block_open = false;
        for (std::uint32_t day = 0; day < options_.days; ++day) {
          const DayPlan p = plan(nmi, s, day);
          if (!p.resent) continue;
          if (!block_open) write_block_header(nmi, s), block_open = true;
          SplitMix64 rng(mix64(p.seed, 0x5e5e));
          write_300(day, DayKind::actual, rng, /*resend=*/true);
          ++stats_.resent_days;
        }
      }
  }

  void write_300(std::uint32_t day, DayKind kind, SplitMix64& rng, bool resend) {
    const auto& table = value_table();
    std::uint32_t values = intervals_;
    if (kind == DayKind::short_values) values -= 1 + rng.below(intervals_ / 2);
    const std::uint32_t special = kind == DayKind::bad_value ? rng.below(intervals_)
                                  : kind == DayKind::wrapped ? intervals_ / 2
                                                             : intervals_;
    char* p = writer_.begin_line();
    p = ChunkWriter::put(p, "300,");
    p = ChunkWriter::put(p, dates_[day]);
    *p++ = ',';
    std::uint64_t milli = 0, bits = 0;
    int bits_left = 0;
    for (std::uint32_t k = 0; k < values; ++k) {
      if (bits_left == 0) bits = rng.next(), bits_left = 64 / kValueBits;
      const ValueText& v = table[bits & (kValueCount - 1)];
      bits >>= kValueBits;
      --bits_left;
      if (k == special) {
        p = kind == DayKind::bad_value ? ChunkWriter::put(p, "abc,") : wrap_line(p, v.milli);
        continue;
      }
      std::memcpy(p, v.text, 8);
      p += v.length;
      milli += v.milli;
    }
    p = ChunkWriter::put(p, kind == DayKind::forward_estimate ? "E52,,,"
                            : kind == DayKind::variable       ? "V,,,"
                                                              : "A,,,");
    const std::uint32_t updated = day + (resend ? 2 : 1);
    p = ChunkWriter::put(p, dates_[updated]);
    p = put_time(p, rng);
    *p++ = ',';
    if (rng.below(2)) {  // MSATSLoadDateTime is often blank
      p = ChunkWriter::put(p, dates_[updated + 1]);
      p = put_time(p, rng);
    }
    writer_.end_line(p);

    if (kind >= DayKind::bad_value) {
      ++stats_.malformed_days;
    } else {
      ++stats_.days;
      stats_.readings += intervals_;
      milli_sum_ += milli;
    }
  }

  // Breaks the line right after a decimal point, as the hard-wrapped files in the wild do. The
  // continuation starts with the fraction digits; they never end in 0, so they can never read
  // as a record indicator (100, 200, ... 900).
  char* wrap_line(char* p, std::uint32_t milli) {
    if (milli % 1000 == 0) milli += 271;
    p = std::to_chars(p, p + 8, milli / 1000).ptr;
    *p++ = '.';
    writer_.end_line(p);
    p = writer_.begin_line();
    std::uint32_t frac = milli % 1000;
    int digits = 3;
    while (frac % 10 == 0) frac /= 10, --digits;
    p = ChunkWriter::put_digits(p, frac, digits);
    *p++ = ',';
    return p;
  }

  // 2–4 consecutive ranges that cover 1..N exactly once, as a V day requires.
  void write_400s(SplitMix64& rng) {
    // Range ends, kept sorted and distinct by insertion; the last range always ends at N.
    std::array<std::uint32_t, 4> ends{};
    std::size_t count = 0;
    for (std::uint32_t cuts = 1 + rng.below(3); cuts > 0; --cuts) {
      const std::uint32_t end = 1 + rng.below(intervals_ - 1);
      std::size_t i = 0;
      while (i < count && ends[i] < end) ++i;
      if (i < count && ends[i] == end) continue;
      for (std::size_t j = count; j > i; --j) ends[j] = ends[j - 1];
      ends[i] = end;
      ++count;
    }
    ends[count++] = intervals_;
    std::uint32_t start = 1;
    for (std::size_t i = 0; i < count; ++i) {
      char* p = writer_.begin_line();
      p = ChunkWriter::put(p, "400,");
      p = std::to_chars(p, p + 4, start).ptr;
      *p++ = ',';
      p = std::to_chars(p, p + 4, ends[i]).ptr;
      *p++ = ',';
      const std::uint32_t pick = rng.below(10);
      p = ChunkWriter::put(p, pick < 5   ? "A,,"
                              : pick < 7 ? "E52,,"
                              : pick < 9 ? "S14,76,"
                                         : "A,79,Power Outage Alarm");
      writer_.end_line(p);
      start = ends[i] + 1;
    }
  }

  void write_500(std::uint32_t day, SplitMix64& rng) {
    char* p = writer_.begin_line();
    const std::uint32_t pick = rng.below(3);
    if (pick == 0) {
      p = ChunkWriter::put(p, "500,E,,,");  // an estimate: no read
    } else {
      if (pick == 1) {
        p = ChunkWriter::put(p, "500,S,SO");
        p = ChunkWriter::put_digits(p, rng.below(1'000'000), 6);
        *p++ = ',';
      } else {
        p = ChunkWriter::put(p, "500,N,,");
      }
      p = ChunkWriter::put(p, dates_[day + 1]);
      p = put_time(p, rng);
      *p++ = ',';
      p = std::to_chars(p, p + 8, rng.below(100'000)).ptr;
      *p++ = '.';
      *p++ = static_cast<char>('0' + rng.below(10));
    }
    writer_.end_line(p);
    ++stats_.b2b_events;
  }

  const GeneratorOptions& options_;
  const std::uint32_t intervals_;
  const std::int64_t first_day_;
  const DateTexts dates_;
  ChunkWriter writer_;
  GeneratorStats stats_;
  std::uint64_t milli_sum_ = 0;
};

}  // namespace

GeneratorStats generate_nem12(const GeneratorOptions& options,
                              const std::function<void(std::string_view)>& out) {
  return Generator(options, out).run();
}

std::string generate_nem12_string(const GeneratorOptions& options, GeneratorStats* stats) {
  std::string text;
  const GeneratorStats s =
      generate_nem12(options, [&](std::string_view chunk) { text.append(chunk); });
  if (stats) *stats = s;
  return text;
}

}  // namespace meterd
