// NdjsonReader: buffering complete lines, the document stream with its line-by-line fallback,
// and runs of consecutive readings. One line's fields are decoded in ndjson_fields.cpp.
#include "protocol/ndjson_reader.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "protocol/ndjson_fields.hpp"
#include "protocol/nem_time.hpp"

namespace meterd {
namespace {

namespace od = simdjson::ondemand;
using ndjson::fail;
using ndjson::json_fail;
using ndjson::Line;
using ndjson::Problem;
using ndjson::TimeCaches;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

// Newlines in [p, p + n): memchr is vectorised, a byte loop is not (it was a fifth of the time).
std::uint64_t count_newlines(const char* p, std::size_t n) {
  std::uint64_t lines = 0;
  const char* end = p + n;
  while (p < end) {
    p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (!p) break;
    ++lines;
    ++p;
  }
  return lines;
}

// Interns a string once per change: consecutive lines usually share every string.
struct CachedString {
  std::string text;
  std::uint32_t id = 0;
  bool valid = false;
  std::uint32_t get(StringTable& table, std::string_view s) {
    if (!valid || s != text) {
      text.assign(s);
      id = table.intern(s);
      valid = true;
    }
    return id;
  }
};

}  // namespace
static_assert(NdjsonReader::kPadding >= simdjson::SIMDJSON_PADDING);

struct NdjsonReader::Impl {
  ReaderOptions options;
  ReadingSink& sink;
  FileReport report;
  ReadingBatch batch;
  od::parser parser;
  std::vector<char> buffer;  // pending bytes; capacity always len + SIMDJSON_PADDING or more
  std::size_t buffered = 0;
  // The block being read: buffer, or the caller's bytes (feed_in_place); in_readable bytes from
  // `in` may be read (SIMDJSON_PADDING past the block at least).
  const char* in = nullptr;
  std::size_t in_readable = 0;
  std::uint64_t next_line = 1;  // line number of in[0]
  bool skipping_long_line = false, started = false;
  std::array<CachedString, 6> strings;  // nmi, suffix, register, serial, uom, reason text
  bool run_open = false, run_line_given = false;
  QualityTally qualities;
  std::vector<double> values_buffer;  // "values" of the current line
  TimeCaches times;

  Impl(ReaderOptions o, ReadingSink& s) : options(std::move(o)), sink(s) {
    report.name = options.name;
    report.version_header = "NDJSON";
  }

  void reserve(std::size_t n) {
    if (buffer.size() < n + simdjson::SIMDJSON_PADDING)
      buffer.resize(std::max(n + simdjson::SIMDJSON_PADDING, buffer.size() * 2));
  }

  void reject(std::uint64_t line_no, const Problem& p, std::string_view nmi = {}) {
    Issue issue;
    issue.severity = Severity::reject;
    issue.line = static_cast<std::uint32_t>(line_no);
    issue.record = "ndjson";
    issue.field = p.field;
    issue.reason = p.reason;
    issue.scope = "record";
    issue.nmi = std::string(nmi);
    issue.readings_dropped = 1;
    report.add(std::move(issue));
    ++report.rejected_records;
    ++report.readings_rejected;
  }

  void flush() {
    if (batch.empty()) return;
    sink.on_readings(batch);
    batch.clear();
    for (auto& s : strings) s.valid = false;
    run_open = false;
  }

  // A line of the compact form is its readings one after the other (they extend one run).
  void commit_line(Line& l, std::uint64_t line_no) {
    if (l.has_tenant && l.tenant != options.tenant) {  // never stored as another's
      Problem p;
      fail(p, "tenant",
           "names tenant '" + std::string(l.tenant.substr(0, 64)) +
               "', not the one it is sent for ('" + options.tenant + "')");
      return reject(line_no, p, l.nmi);
    }
    if (!l.has_values) return commit(l, line_no);
    const epoch_seconds step = l.interval_minutes * 60;
    const epoch_seconds first = l.interval_start;
    for (std::size_t k = 0; k < values_buffer.size(); ++k) {
      l.value = values_buffer[k];
      l.interval_start = first + static_cast<epoch_seconds>(k) * step;
      commit(l, line_no);
    }
  }

  void commit(const Line& l, std::uint64_t line_no) {
    const std::uint32_t ids[6] = {strings[0].get(batch.strings, l.nmi),
                                  strings[1].get(batch.strings, l.suffix),
                                  strings[2].get(batch.strings, l.register_id),
                                  strings[3].get(batch.strings, l.meter_serial),
                                  strings[4].get(batch.strings, l.uom),
                                  strings[5].get(batch.strings, l.reason_description)};
    const auto minutes = static_cast<std::uint16_t>(l.interval_minutes);
    const bool line_given = l.source_line >= 0;
    // Each reading keeps its own line: a run extends over consecutive lines (step 1) or within
    // one line (the compact form, step 0).
    const auto line = static_cast<std::uint32_t>(line_given ? l.source_line : line_no);
    if (run_open) {
      auto& r = batch.runs.back();
      // On the interval grid, the reading after the run begins another NEM day only at NEM
      // midnight (a zero remainder, whatever the sign: instants before 1970 too).
      if (r.nmi == ids[0] && r.suffix == ids[1] && r.register_id == ids[2] &&
          r.meter_serial == ids[3] && r.uom == ids[4] && r.reason_description == ids[5] &&
          r.interval_minutes == minutes && r.quality == l.quality && r.method == l.method &&
          r.reason_code == l.reason_code && r.update_datetime == l.update_datetime &&
          r.msats_load_datetime == l.msats_load_datetime && r.file_created == l.file_created &&
          run_line_given == line_given &&
          (line == r.line_of(r.count) || (r.count == 1 && line == r.line + 1)) &&
          l.interval_start == r.interval_start(r.count) &&
          (l.interval_start + kNemOffsetSeconds) % 86400 != 0) {
        if (r.count == 1) r.line_step = static_cast<std::uint8_t>(line - r.line);
        ++r.count;
        batch.values.push_back(l.value);
        return count(l);
      }
    }
    ReadingRun r;
    r.first_value = static_cast<std::uint32_t>(batch.values.size());
    r.count = 1;
    r.nmi = ids[0];
    r.suffix = ids[1];
    r.register_id = ids[2];
    r.meter_serial = ids[3];
    r.uom = ids[4];
    r.reason_description = ids[5];
    r.interval_minutes = minutes;
    r.quality = l.quality;
    r.method = l.method;
    r.reason_code = l.reason_code;
    r.line = line;
    r.first_start = l.interval_start;
    r.update_datetime = l.update_datetime;
    r.msats_load_datetime = l.msats_load_datetime;
    r.file_created = l.file_created;
    r.file_sequence = options.file_sequence;
    batch.runs.push_back(r);
    batch.values.push_back(l.value);
    run_open = true;
    run_line_given = line_given;
    ++report.blocks;
    count(l);
  }

  void count(const Line& l) {
    ++report.readings;
    report.value_sum += l.value;
    qualities.add(l.quality, l.method, 1);
  }

  void after_line() {
    if (batch.values.size() >= options.batch_readings) flush();
  }

  // One line on its own (the slow path: exact error positions). [b, e) excludes the newline.
  void line_by_line(std::size_t b, std::size_t e, std::uint64_t line_no) {
    while (b < e && (is_space(in[b]) || in[b] == '\n')) ++b;
    while (e > b && is_space(in[e - 1])) --e;
    if (b == e) return;  // blank line
    Problem p;
    Line line;
    line.values = &values_buffer;
    od::document doc;
    auto e1 = parser.iterate(in + b, e - b, in_readable - b).get(doc);
    if (e1) return reject(line_no, (json_fail(p, "", e1), p));
    od::object object;
    if (auto e2 = doc.get_object().get(object)) {
      if (e2 == simdjson::INCORRECT_TYPE)
        return reject(line_no, (fail(p, "", "expected a JSON object"), p));
      return reject(line_no, (json_fail(p, "", e2), p));
    }
    if (!ndjson::decode_object(object, line, p, options.strict, times))
      return reject(line_no, p, line.nmi);
    if (doc.current_location().error() == simdjson::SUCCESS)  // more tokens after the object
      return reject(line_no, (fail(p, "", "more than one JSON value on the line"), p), line.nmi);
    commit_line(line, line_no);
    after_line();
  }

  // Complete lines in in[0, len). Each is read by decode_flat while it can (the usual line:
  // no parser, no escapes); from the first line it cannot, the rest of the block goes through
  // simdjson's document stream as a whole (stream_block), so an unusual body costs what it did.
  void block(const char* data, std::size_t len, std::size_t readable) {
    in = data;
    in_readable = readable;
    std::size_t b = 0;
    if (simdjson::validate_utf8(in, len)) {
      while (b < len) {  // the block ends with a newline
        const char* nl = static_cast<const char*>(std::memchr(in + b, '\n', len - b));
        const std::size_t e = static_cast<std::size_t>(nl - in);
        if (!flat_line(b, e)) break;
        b = e + 1;
        ++next_line;
      }
    }
    if (b < len) stream_block(b, len);
  }

  // One line [b, e) through decode_flat; false (nothing done) when it cannot take it.
  bool flat_line(std::size_t b, std::size_t e) {
    std::size_t first = b;
    while (first < e && is_space(in[first])) ++first;
    if (first == e) return true;      // blank line
    while (is_space(in[e - 1])) --e;  // a CR of CRLF, trailing blanks
    Line line;
    line.values = &values_buffer;
    if (!ndjson::decode_flat({in + first, e - first}, line, options.strict, times)) return false;
    commit_line(line, next_line);
    after_line();
    return true;
  }

  // Complete lines in in[from, len) through simdjson: the fast path is a document stream;
  // at the first doubt (malformed JSON, a value spanning lines, two values on a line) the rest
  // of the block is read line by line.
  void stream_block(std::size_t from, std::size_t len) {
    std::size_t good_end = from;  // start of the first line not yet handled
    std::uint64_t good_line = next_line;
    bool fallback = false;
    od::document_stream stream;
    if (parser.iterate_many(in + from, len - from, std::max<std::size_t>(len - from, 1 << 20))
            .get(stream)) {
      fallback = true;
    } else {
      std::size_t scan = from;
      std::uint64_t scan_line = next_line;
      for (auto it = stream.begin(); it != stream.end(); ++it) {
        const std::size_t at = from + it.current_index();
        if (it.error() || at < good_end) {
          fallback = true;
          break;
        }
        // The stream may resume past a region it could not split into documents: anything but
        // blank lines between the previous document and this one must be read line by line, or
        // its lines would vanish unreported (reading_decoder_fuzz found it).
        bool skipped = false;
        for (std::size_t i = scan; i < at && !skipped; ++i)
          skipped = !is_space(in[i]) && in[i] != '\n';
        if (skipped) {
          fallback = true;
          break;
        }
        scan_line += count_newlines(in + scan, at - scan);
        scan = at;
        // Blank lines between documents are fine; the document must fill the rest of its line.
        const std::string_view source = it.source();
        if (source.find('\n') != std::string_view::npos) {
          fallback = true;
          break;
        }
        std::size_t end = at + source.size();
        while (end < len && is_space(in[end])) ++end;
        if (end < len && in[end] != '\n') {
          fallback = true;
          break;
        }
        Problem p;
        Line line;
        line.values = &values_buffer;
        auto doc = *it;
        od::object object;
        if (auto e = doc.get_object().get(object)) {
          if (e != simdjson::INCORRECT_TYPE) {
            fallback = true;
            break;
          }
          reject(scan_line, (fail(p, "", "expected a JSON object"), p));
        } else if (!ndjson::decode_object(object, line, p, options.strict, times)) {
          if (p.json) {
            fallback = true;
            break;
          }
          reject(scan_line, p, line.nmi);
        } else {
          commit_line(line, scan_line);
          after_line();
        }
        good_end = end < len ? end + 1 : len;
        good_line = scan_line + 1;
        scan = good_end;
        scan_line = good_line;
      }
    }
    // A stream that stopped early (an unclosed document swallows the rest of the batch) leaves
    // lines unhandled: they are read one by one too.
    if (!fallback)
      for (std::size_t i = good_end; i < len && !fallback; ++i)
        fallback = !is_space(in[i]) && in[i] != '\n';
    if (!fallback) {  // what follows the last document is blank lines only
      next_line = good_line + count_newlines(in + good_end, len - good_end);
      return;
    }
    std::size_t b = good_end;
    std::uint64_t line_no = good_line;
    while (b < len) {  // the block ends with a newline: one line per turn
      const char* nl = static_cast<const char*>(std::memchr(in + b, '\n', len - b));
      const std::size_t e = nl ? static_cast<std::size_t>(nl - in) : len;
      line_by_line(b, e, line_no);
      b = e + 1;
      ++line_no;
    }
    next_line = line_no;
  }

  void feed(std::string_view chunk, bool in_place) {
    report.bytes += chunk.size();
    if (!started) {
      started = true;
      if (chunk.substr(0, 3) == "\xEF\xBB\xBF") chunk.remove_prefix(3);
    }
    while (!chunk.empty()) {
      if (skipping_long_line) {  // drop bytes up to the end of an over-long line
        auto nl = chunk.find('\n');
        if (nl == std::string_view::npos) return;
        chunk.remove_prefix(nl + 1);
        skipping_long_line = false;
        ++next_line;
        continue;
      }
      // Take up to the last newline of this chunk (at most 1 MiB at a time).
      std::string_view take = chunk.substr(0, 1u << 20);
      auto last_nl = take.rfind('\n');
      if (last_nl == std::string_view::npos) {
        if (buffered + take.size() > kMaxLineBytes) {
          Problem p;
          reject(next_line,
                 (fail(p, "", "line longer than " + std::to_string(kMaxLineBytes) + " bytes"), p));
          buffered = 0;
          skipping_long_line = true;
        } else {
          reserve(buffered + take.size());
          std::memcpy(buffer.data() + buffered, take.data(), take.size());
          buffered += take.size();
        }
        chunk.remove_prefix(take.size());
        continue;
      }
      take = take.substr(0, last_nl + 1);
      if (in_place && buffered == 0) {  // complete lines read where they are
        block(take.data(), take.size(), chunk.size() + kPadding);
        chunk.remove_prefix(take.size());
        continue;
      }
      reserve(buffered + take.size());
      std::memcpy(buffer.data() + buffered, take.data(), take.size());
      block(buffer.data(), buffered + take.size(), buffer.size());
      buffered = 0;
      chunk.remove_prefix(take.size());
    }
  }

  void finish() {
    if (buffered > 0) {
      reserve(buffered + 1);
      buffer[buffered] = '\n';
      ++buffered;
      block(buffer.data(), buffered, buffer.size());
      buffered = 0;
    }
    flush();
    report.lines = next_line - 1;
    qualities.fold_into(report);
  }
};

NdjsonReader::NdjsonReader(ReaderOptions options, ReadingSink& sink)
    : impl_(std::make_unique<Impl>(std::move(options), sink)) {}
NdjsonReader::~NdjsonReader() = default;
void NdjsonReader::feed(std::string_view chunk) {
  impl_->feed(chunk, false);
}
void NdjsonReader::feed_in_place(std::string_view padded) {
  impl_->feed(padded, true);
}
void NdjsonReader::finish() {
  impl_->finish();
}
const FileReport& NdjsonReader::report() const {
  return impl_->report;
}
FileReport& NdjsonReader::report() {
  return impl_->report;
}

}  // namespace meterd
