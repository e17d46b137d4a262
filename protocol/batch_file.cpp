#include "protocol/batch_file.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/batch_codec.hpp"
#include "protocol/little_endian.hpp"

namespace meterd {

namespace {

constexpr std::size_t kHeaderBytes = 8 + 8 + 8;

}  // namespace

BatchFileWriter::BatchFileWriter() {
  out_.append(kBatchFileMagic);
  little_endian::append<std::uint64_t>(out_, 0);
  little_endian::append<std::uint64_t>(out_, 0);
}

void BatchFileWriter::append(const ReadingBatch& batch) {
  if (batch.empty()) return;
  append_batch_frame(out_, batch);
}

std::string BatchFileWriter::finish(std::uint64_t source_lines, std::uint64_t source_bytes) {
  little_endian::append<std::uint32_t>(
      out_, 0);  // the end frame: a file cut at a frame boundary is still caught
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
  FrameLayout layout = FrameLayout::v3;
  std::uint64_t frames = 0, source_lines = 0, source_bytes = 0;
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
  bool frame(std::string_view payload) {
    const auto why = decode_batch_frame(payload, batch, {FrameChecks::ndjson_schema, layout});
    if (!why.empty()) return corrupt(why), false;
    if (batch.runs.empty()) return corrupt("empty frame"), false;
    for (auto& r : batch.runs) {
      r.file_sequence = options.file_sequence;
      count(r);
    }
    sink.on_readings(batch);
    batch.clear();
    ++frames;
    return true;
  }

  void count(const ReadingRun& r) {
    ++report.blocks;
    report.readings += r.count;
    for (std::uint32_t k = 0; k < r.count; ++k) report.value_sum += batch.values[r.first_value + k];
    qualities.add(r.quality, r.method, r.count);
  }

  // The magic, as far as it has arrived; false (and a fatal issue) when it is neither version's.
  bool magic(std::string_view head) {
    const auto n = std::min(head.size(), kBatchFileMagic.size());
    if (head.substr(0, n) == kBatchFileMagic.substr(0, n)) return true;
    if (head.substr(0, n) == kBatchFileMagicV2.substr(0, n)) {
      layout = FrameLayout::v2;
      return true;
    }
    if (head.substr(0, n) == kBatchFileMagicV1.substr(0, n)) {
      layout = FrameLayout::v1;
      return true;
    }
    corrupt("not a batch file (magic)");
    return false;
  }

  void feed(std::string_view chunk) {
    report.bytes += chunk.size();
    if (report.fatal) return;
    pending.append(chunk);
    std::size_t at = consumed;
    const auto available = [&] { return pending.size() - at; };
    if (!header_read) {
      if (!magic(std::string_view(pending).substr(at))) return;
      if (available() < kHeaderBytes) return;
      const char* p = pending.data() + at + 8;
      source_lines = little_endian::load<std::uint64_t>(p);
      source_bytes = little_endian::load<std::uint64_t>(p);
      at += kHeaderBytes;
      header_read = true;
    }
    while (available() >= kFrameLengthBytes && !report.fatal) {
      const std::uint32_t size = batch_frame_length(std::string_view(pending).substr(at));
      if (end_seen) return corrupt("data after the end frame");
      if (size == 0) {
        end_seen = true;
        at += kFrameLengthBytes;
        continue;
      }
      if (size > kMaxFrameBytes) return corrupt("frame larger than 64 MiB");
      if (available() < kFrameLengthBytes + std::uint64_t{size}) break;
      if (!frame(std::string_view(pending).substr(at + kFrameLengthBytes, size))) return;
      at += kFrameLengthBytes + size;
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
