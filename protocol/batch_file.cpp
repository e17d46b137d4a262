#include "protocol/batch_file.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "protocol/nem_time.hpp"

namespace meterd {

static_assert(std::endian::native == std::endian::little, "the batch file is little-endian");

namespace {

constexpr std::size_t kHeaderBytes = 8 + 8 + 8;
constexpr std::size_t kRunBytes = 4 + 6 * 4 + 2 + 1 + 1 + 2 + 4 + 4 * 8;
constexpr std::string_view kQualities = "AEFSN";
// Times an NDJSON line can carry: years 0000 to 9999 (ISO-8601 with four-digit years).
constexpr epoch_seconds kMinTime = -62167219200 - 86400, kMaxTime = 253402300800 + 86400;

template <class T>
void put(std::string& out, T v) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <class T>
T get(const char*& p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  p += sizeof(T);
  return v;
}

bool valid_time(epoch_seconds t) {
  return t == kNoTime || (t >= kMinTime && t <= kMaxTime);
}

}  // namespace

BatchFileWriter::BatchFileWriter() {
  out_.append(kBatchFileMagic);
  put<std::uint64_t>(out_, 0);
  put<std::uint64_t>(out_, 0);
}

void BatchFileWriter::append(const ReadingBatch& batch) {
  if (batch.empty()) return;
  const std::size_t frame_at = out_.size();
  put<std::uint32_t>(out_, 0);  // payload size, set below
  put(out_, static_cast<std::uint32_t>(batch.strings.size()));
  put(out_, static_cast<std::uint32_t>(batch.runs.size()));
  put(out_, static_cast<std::uint32_t>(batch.values.size()));
  put(out_, static_cast<std::uint32_t>(batch.strings.bytes()));
  for (std::uint32_t i = 0; i < batch.strings.size(); ++i)
    put(out_, static_cast<std::uint32_t>(batch.strings[i].size()));
  for (std::uint32_t i = 0; i < batch.strings.size(); ++i) out_.append(batch.strings[i]);
  for (const auto& r : batch.runs) {
    put(out_, r.count);
    for (auto id : {r.nmi, r.suffix, r.register_id, r.meter_serial, r.uom, r.reason_description})
      put(out_, id);
    put(out_, r.interval_minutes);
    put(out_, static_cast<std::uint8_t>(r.quality));
    put(out_, r.method);
    put(out_, r.reason_code);
    put(out_, r.line);
    for (auto t : {r.first_start, r.update_datetime, r.msats_load_datetime, r.file_created})
      put(out_, t);
  }
  const auto* values = reinterpret_cast<const char*>(batch.values.data());
  out_.append(values, batch.values.size() * sizeof(double));
  const auto payload = static_cast<std::uint32_t>(out_.size() - frame_at - 4);
  std::memcpy(out_.data() + frame_at, &payload, 4);
}

std::string BatchFileWriter::finish(std::uint64_t source_lines, std::uint64_t source_bytes) {
  put<std::uint32_t>(out_, 0);  // the end frame: a file cut at a frame boundary is still caught
  std::memcpy(out_.data() + 8, &source_lines, 8);
  std::memcpy(out_.data() + 16, &source_bytes, 8);
  std::string file = std::move(out_);
  out_.clear();
  return file;
}

struct BatchFileReader::Impl {
  ReaderOptions options;
  ReadingSink& sink;
  FileReport report;
  ReadingBatch batch;
  std::string pending;
  std::size_t consumed = 0;  // of pending
  bool header_read = false, end_seen = false;
  std::uint64_t frames = 0, source_lines = 0, source_bytes = 0;
  std::vector<std::uint32_t> string_ids;  // file id -> batch id
  QualityTally qualities;

  Impl(ReaderOptions o, ReadingSink& s) : options(std::move(o)), sink(s) {
    report.name = options.name;
    report.version_header = "NDJSON (validated by the HTTP API)";
  }

  void corrupt(const std::string& reason) {
    Issue issue;
    issue.severity = Severity::fatal;
    issue.record = "batch";
    issue.field = "frame " + std::to_string(frames + 1);
    issue.reason = "corrupt batch file: " + reason;
    issue.scope = "file";
    report.add(std::move(issue));
  }

  // One frame's payload; false (and a fatal issue) if it breaks any rule.
  bool frame(const char* p, std::uint32_t size) {
    const char* const end = p + size;
    if (size < 16) return corrupt("frame shorter than its counts"), false;
    const auto strings = get<std::uint32_t>(p), runs = get<std::uint32_t>(p);
    const auto values = get<std::uint32_t>(p), text_bytes = get<std::uint32_t>(p);
    const std::uint64_t expected =
        16 + 4ull * strings + text_bytes + std::uint64_t{kRunBytes} * runs + 8ull * values;
    if (expected != size) return corrupt("counts do not match the frame size"), false;
    if (runs == 0 || values == 0) return corrupt("empty frame"), false;
    batch.clear();
    string_ids.clear();
    const char* text = p + 4ull * strings;
    std::uint64_t text_used = 0;
    for (std::uint32_t i = 0; i < strings; ++i) {
      const auto length = get<std::uint32_t>(p);
      if (length > text_bytes - text_used) return corrupt("string outside the frame"), false;
      string_ids.push_back(batch.strings.intern(std::string_view(text + text_used, length)));
      text_used += length;
    }
    if (text_used != text_bytes) return corrupt("string bytes do not add up"), false;
    p = text + text_bytes;
    const char* value_at = p + std::uint64_t{kRunBytes} * runs;
    std::uint64_t next_value = 0;
    for (std::uint32_t i = 0; i < runs; ++i) {
      ReadingRun r;
      r.count = get<std::uint32_t>(p);
      std::uint32_t* ids[] = {&r.nmi,          &r.suffix, &r.register_id,
                              &r.meter_serial, &r.uom,    &r.reason_description};
      for (auto* id : ids) {
        const auto file_id = get<std::uint32_t>(p);
        if (file_id >= strings) return corrupt("string id out of range"), false;
        *id = string_ids[file_id];
      }
      r.interval_minutes = get<std::uint16_t>(p);
      r.quality = static_cast<char>(get<std::uint8_t>(p));
      r.method = get<std::uint8_t>(p);
      r.reason_code = get<std::int16_t>(p);
      r.line = get<std::uint32_t>(p);
      r.first_start = get<epoch_seconds>(p);
      r.update_datetime = get<epoch_seconds>(p);
      r.msats_load_datetime = get<epoch_seconds>(p);
      r.file_created = get<epoch_seconds>(p);
      r.file_sequence = options.file_sequence;
      r.first_value = static_cast<std::uint32_t>(next_value);
      if (auto why = check(r, values - next_value); !why.empty()) return corrupt(why), false;
      next_value += r.count;
      batch.runs.push_back(r);
    }
    if (next_value != values) return corrupt("runs do not cover the values"), false;
    batch.values.resize(values);
    std::memcpy(batch.values.data(), value_at, 8ull * values);
    if (value_at + 8ull * values != end) return corrupt("frame layout"), false;
    for (double v : batch.values)
      if (!std::isfinite(v) || v < 0) return corrupt("value not finite and non-negative"), false;
    for (const auto& r : batch.runs) count(r);
    sink.on_readings(batch);
    batch.clear();
    ++frames;
    return true;
  }

  // The NDJSON schema's rules for one run (docs/http.md); "" when it keeps them.
  std::string check(const ReadingRun& r, std::uint64_t values_left) const {
    if (r.count == 0 || r.count > values_left) return "run count out of range";
    const auto nmi = batch.strings[r.nmi].size(), suffix = batch.strings[r.suffix].size();
    if (nmi == 0 || nmi > 10) return "nmi not 1 to 10 characters";
    if (suffix == 0 || suffix > 3) return "suffix not 1 to 3 characters";
    if (batch.strings[r.uom].empty()) return "empty uom";
    if (r.interval_minutes != 5 && r.interval_minutes != 15 && r.interval_minutes != 30)
      return "interval_minutes not 5, 15 or 30";
    if (kQualities.find(r.quality) == std::string_view::npos) return "quality not A, E, F, S, N";
    if (r.method > 99) return "method over 99";
    if (r.reason_code < kNoReasonCode || r.reason_code > 999) return "reason_code out of range";
    if ((r.quality == 'F' || r.quality == 'S') && r.reason_code == kNoReasonCode)
      return "quality F or S without a reason_code";
    if (r.first_start == kNoTime || !valid_time(r.first_start) || !valid_time(r.update_datetime) ||
        !valid_time(r.msats_load_datetime) || !valid_time(r.file_created))
      return "time out of range";
    const epoch_seconds step = r.interval_minutes * 60;
    if ((r.first_start + kNemOffsetSeconds) % step != 0) return "interval_start not aligned";
    const epoch_seconds last = r.first_start + static_cast<epoch_seconds>(r.count - 1) * step;
    if ((last + kNemOffsetSeconds) / 86400 != (r.first_start + kNemOffsetSeconds) / 86400)
      return "run crosses a NEM day";
    return {};
  }

  void count(const ReadingRun& r) {
    ++report.blocks;
    report.readings += r.count;
    for (std::uint32_t k = 0; k < r.count; ++k) report.value_sum += batch.values[r.first_value + k];
    qualities.add(r.quality, r.method, r.count);
  }

  void feed(std::string_view chunk) {
    report.bytes += chunk.size();
    if (report.fatal) return;
    pending.append(chunk);
    std::size_t at = consumed;
    const auto available = [&] { return pending.size() - at; };
    if (!header_read) {
      const auto n = std::min(available(), kBatchFileMagic.size());
      if (std::string_view(pending).substr(at, n) != kBatchFileMagic.substr(0, n))
        return corrupt("not a batch file (magic)");
      if (available() < kHeaderBytes) return;
      const char* p = pending.data() + at + 8;
      source_lines = get<std::uint64_t>(p);
      source_bytes = get<std::uint64_t>(p);
      at += kHeaderBytes;
      header_read = true;
    }
    while (available() >= 4 && !report.fatal) {
      std::uint32_t size;
      std::memcpy(&size, pending.data() + at, 4);
      if (end_seen) return corrupt("data after the end frame");
      if (size == 0) {
        end_seen = true;
        at += 4;
        continue;
      }
      if (size > kMaxFrameBytes) return corrupt("frame larger than 64 MiB");
      if (available() < 4ull + size) break;
      if (!frame(pending.data() + at + 4, size)) return;
      at += 4ull + size;
    }
    // Keep only the unread tail; compact once it is the smaller part.
    consumed = at;
    if (consumed > pending.size() / 2) {
      pending.erase(0, consumed);
      consumed = 0;
    }
  }

  void finish() {
    if (!report.fatal) {
      if (!header_read)
        corrupt("file shorter than its header");
      else if (pending.size() > consumed)
        corrupt("truncated frame at the end");
      else if (!end_seen)
        corrupt("truncated: no end frame");
    }
    report.lines = source_lines;
    qualities.fold_into(report);
  }
};

BatchFileReader::BatchFileReader(ReaderOptions options, ReadingSink& sink)
    : impl_(std::make_unique<Impl>(std::move(options), sink)) {}
BatchFileReader::~BatchFileReader() = default;
void BatchFileReader::feed(std::string_view chunk) {
  impl_->feed(chunk);
}
void BatchFileReader::finish() {
  impl_->finish();
}
const FileReport& BatchFileReader::report() const {
  return impl_->report;
}
FileReport& BatchFileReader::report() {
  return impl_->report;
}

}  // namespace meterd
