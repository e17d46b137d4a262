#include "tests/parse_collect.hpp"

#include <memory>

#include "protocol/input_source.hpp"

namespace meterd::test {

void CollectingSink::on_readings(ReadingBatch& batch) {
  ++out_.batches;
  batch.for_each([this](const ReadingRow& r) {
    OwnedReading o;
    o.nmi = r.nmi;
    o.suffix = r.suffix;
    o.register_id = r.register_id;
    o.meter_serial = r.meter_serial;
    o.uom = r.uom;
    o.reason_description = r.reason_description;
    o.interval_minutes = r.interval_minutes;
    o.quality = r.quality;
    o.method = r.method;
    o.reason_code = r.reason_code;
    o.line = r.line;
    o.interval_start = r.interval_start;
    o.update_datetime = r.update_datetime;
    o.msats_load_datetime = r.msats_load_datetime;
    o.file_created = r.file_created;
    o.value = r.value;
    out_.readings.push_back(std::move(o));
  });
}

void CollectingSink::on_b2b_events(std::vector<B2BEvent>& events) {
  for (auto& e : events) out_.b2b_events.push_back(std::move(e));
  events.clear();
}

void CollectingSink::on_register_reads(std::vector<RegisterReadPeriod>& reads) {
  for (auto& r : reads) out_.register_reads.push_back(std::move(r));
  reads.clear();
}

namespace {

class CollectingVisitor : public InputVisitor {
 public:
  CollectingVisitor(ParsedInput& out, bool strict, std::uint32_t batch_readings)
      : out_(out), sink_(out), strict_(strict), batch_readings_(batch_readings) {}
  void on_member(const InputMember& member) override {
    ReaderOptions options;
    options.strict = strict_;
    options.name = member.name;
    options.batch_readings = batch_readings_;
    reader_ = std::make_unique<Nem12Reader>(options, sink_);
  }
  void on_chunk(std::string_view bytes) override { reader_->feed(bytes); }
  void on_member_end() override {
    reader_->finish();
    out_.reports.push_back(reader_->report());
    reader_.reset();
  }
  void on_error(const std::string& member, const std::string& message) override {
    out_.input_errors.push_back(member + ": " + message);
    if (reader_) {
      reader_->finish();
      out_.reports.push_back(reader_->report());
      reader_.reset();
    }
  }

 private:
  ParsedInput& out_;
  CollectingSink sink_;
  bool strict_;
  std::uint32_t batch_readings_;
  std::unique_ptr<Nem12Reader> reader_;
};

}  // namespace

ParsedInput parse_path(const std::filesystem::path& path, bool strict,
                       std::uint32_t batch_readings) {
  ParsedInput out;
  CollectingVisitor visitor(out, strict, batch_readings);
  const InputResult result = read_input(path, visitor);
  out.opened = result.opened;
  if (!result.opened) out.input_errors.push_back(result.error);
  return out;
}

ParsedInput parse_bytes(std::string_view bytes, std::size_t chunk, bool strict,
                        std::uint32_t batch_readings) {
  ParsedInput out;
  out.opened = true;
  CollectingSink sink(out);
  ReaderOptions options;
  options.strict = strict;
  options.batch_readings = batch_readings;
  Nem12Reader reader(options, sink);
  if (chunk == 0) chunk = bytes.size() ? bytes.size() : 1;
  for (std::size_t pos = 0; pos < bytes.size(); pos += chunk) reader.feed(bytes.substr(pos, chunk));
  reader.finish();
  out.reports.push_back(reader.report());
  return out;
}

}  // namespace meterd::test
