#include "protocol/ndjson_lines.hpp"

#include <stdexcept>

#include "protocol/nem12_reader.hpp"
#include "protocol/nem_time.hpp"
#include "protocol/reading_format.hpp"

namespace meterd {
namespace {

// One line of the lean or compact form: the run's fields, with `values` for its readings
// (compact) or `value` for reading k (lean).
void append_run_line(std::string& o, const ReadingBatch& batch, const ReadingRun& run, bool compact,
                     std::uint32_t k) {
  auto text = [&](const char* key, std::uint32_t id, bool optional) {
    const auto s = batch.strings[id];
    if (optional && s.empty()) return;
    o += ",\"";
    o += key;
    o += "\":";
    append_json_string(o, s);
  };
  auto time = [&](const char* key, epoch_seconds t) {
    if (t == kNoTime) return;
    o += ",\"";
    o += key;
    o += "\":\"";
    append_nem_time(o, t);
    o += '"';
  };
  o += "{\"nmi\":";
  append_json_string(o, batch.strings[run.nmi]);
  text("suffix", run.suffix, false);
  time("interval_start", compact ? run.first_start : run.interval_start(k));
  o += ",\"interval_minutes\":";
  o += std::to_string(run.interval_minutes);
  if (compact) {
    o += ",\"values\":[";
    for (std::uint32_t i = 0; i < run.count; ++i) {
      if (i) o += ',';
      append_double(o, batch.values[run.first_value + i]);
    }
    o += ']';
  } else {
    o += ",\"value\":";
    append_double(o, batch.values[run.first_value + k]);
  }
  text("uom", run.uom, false);
  o += ",\"quality\":\"";
  o += run.quality;
  o += '"';
  if (run.method != kNoMethod) o += ",\"method\":" + std::to_string(run.method);
  if (run.reason_code != kNoReasonCode) o += ",\"reason_code\":" + std::to_string(run.reason_code);
  text("reason_description", run.reason_description, true);
  time("update_datetime", run.update_datetime);
  time("msats_load_datetime", run.msats_load_datetime);
  text("register_id", run.register_id, true);
  text("meter_serial", run.meter_serial, true);
  time("file_created", run.file_created);
  if (compact) o += ",\"line\":" + std::to_string(run.line);
  o += "}\n";
}

}  // namespace

NdjsonForm ndjson_form_from(std::string_view name) {
  if (name == "full") return NdjsonForm::full;
  if (name == "lean") return NdjsonForm::lean;
  if (name == "compact") return NdjsonForm::compact;
  throw std::invalid_argument("expected full, lean or compact, got '" + std::string(name) + "'");
}

const char* to_string(NdjsonForm form) {
  switch (form) {
    case NdjsonForm::full:
      return "full";
    case NdjsonForm::lean:
      return "lean";
    case NdjsonForm::compact:
      return "compact";
  }
  return "?";
}

std::string generated_ndjson(const GeneratorOptions& options, NdjsonForm form,
                             std::uint64_t* readings) {
  struct Sink final : ReadingSink {
    NdjsonForm form{};
    std::string text;
    std::uint64_t readings = 0;
    void on_readings(ReadingBatch& batch) override {
      append_ndjson(text, batch, form);
      readings += batch.readings();
    }
  } sink;
  sink.form = form;
  Nem12Reader reader(ReaderOptions{}, sink);
  generate_nem12(options, [&](std::string_view chunk) { reader.feed(chunk); });
  reader.finish();
  if (readings) *readings = sink.readings;
  return std::move(sink.text);
}

void append_ndjson(std::string& out, const ReadingBatch& batch, NdjsonForm form) {
  switch (form) {
    case NdjsonForm::full:
      batch.for_each([&](const ReadingRow& row) { append_json_row(out, row); });
      return;
    case NdjsonForm::lean:
      for (const auto& run : batch.runs)
        for (std::uint32_t k = 0; k < run.count; ++k) append_run_line(out, batch, run, false, k);
      return;
    case NdjsonForm::compact:
      for (const auto& run : batch.runs) {
        if (run.line_step == 0) {
          append_run_line(out, batch, run, true, 0);
          continue;
        }
        // A reading per line at the source: a line per reading here too, each with its line.
        for (std::uint32_t k = 0; k < run.count; ++k)
          append_run_line(out, batch, run.readings(k, 1), true, 0);
      }
      return;
  }
}

}  // namespace meterd
