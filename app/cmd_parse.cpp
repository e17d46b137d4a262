// meterd parse [--strict] [--format csv|json] [--output readings|register-reads|b2b-events]
//              [--no-readings] [--report text|json] FILE...
//
// Readings go to stdout, the per-file report to stderr, so that `meterd parse f > out.csv`
// gives a clean CSV while the operator still sees what was rejected and why.
#include <cstdio>
#include <string>
#include <vector>

#include "app/commands.hpp"
#include "app/report_text.hpp"
#include "protocol/input_source.hpp"
#include "protocol/nem12_reader.hpp"
#include "protocol/reading_format.hpp"

namespace meterd::app {
namespace {

constexpr const char* kUsage =
    "usage: meterd parse [--strict] [--format csv|json] [--output WHAT] [--no-readings]\n"
    "                    [--report text|json] FILE...\n"
    "  Parses NEM12/NEM13 files (plain, gzip, bzip2, zip, nested zip; sniffed by content) and\n"
    "  prints every interval reading to stdout and a report per file to stderr.\n"
    "  --strict       spec-exact checking: real-world quirks become errors\n"
    "  --format       csv (default, with a header) or json (one object per line)\n"
    "  --output       readings (default: NEM12 interval readings), register-reads (NEM13\n"
    "                 250/550 periods) or b2b-events (NEM12 500 records)\n"
    "  --no-readings  print only the reports\n"
    "  --report       text (default) or json report on stderr\n"
    "  exit status: 0 clean, 1 some data rejected (the rest is printed), 2 a file could not be\n"
    "  read at all, or a usage error\n";

enum class Output { readings, register_reads, b2b_events };

struct Options {
  bool strict = false, json = false, readings = true, json_report = false;
  Output output = Output::readings;
  std::vector<std::string> files;
};

class PrintingSink : public ReadingSink {
 public:
  PrintingSink(const Options& options) : options_(options) {}
  void on_readings(ReadingBatch& batch) override {
    if (!options_.readings || options_.output != Output::readings) return;
    batch.for_each([this](const ReadingRow& row) {
      if (options_.json) {
        append_json_row(out_, row);
      } else {
        append_csv_row(out_, row);
      }
      if (out_.size() > (1u << 20)) flush();
    });
  }
  void on_register_reads(std::vector<RegisterReadPeriod>& reads) override {
    if (options_.readings && options_.output == Output::register_reads)
      for (const auto& read : reads) append_register_read(out_, read, options_.json);
    reads.clear();
  }
  void on_b2b_events(std::vector<B2BEvent>& events) override {
    if (options_.readings && options_.output == Output::b2b_events)
      for (const auto& event : events) append_b2b_event(out_, event, options_.json);
    events.clear();
  }
  void flush() {
    std::fwrite(out_.data(), 1, out_.size(), stdout);
    out_.clear();
  }
  std::string& buffer() { return out_; }

 private:
  const Options& options_;
  std::string out_;
};

// Feeds every member of one input through its own reader and reports it.
class ParseVisitor : public InputVisitor {
 public:
  ParseVisitor(const Options& options, PrintingSink& sink) : options_(options), sink_(sink) {}

  void on_member(const InputMember& member) override {
    ReaderOptions reader_options;
    reader_options.strict = options_.strict;
    reader_options.name = member.name;
    reader_ = std::make_unique<Nem12Reader>(reader_options, sink_);
  }
  void on_chunk(std::string_view bytes) override { reader_->feed(bytes); }
  void on_member_end() override {
    reader_->finish();
    sink_.flush();
    finish_report(reader_->report());
    reader_.reset();
  }
  void on_error(const std::string& member, const std::string& message) override {
    if (reader_) {
      // The member broke off mid-stream: what was read stays printed, the report says why.
      reader_->finish();
      sink_.flush();
      Issue issue;
      issue.severity = Severity::fatal;
      issue.reason = message;
      issue.scope = "file";
      reader_->report().add(std::move(issue));
      finish_report(reader_->report());
      reader_.reset();
    } else {
      std::fprintf(stderr, "meterd parse: %s: %s\n", member.c_str(), message.c_str());
      unreadable_ = true;
    }
  }

  int exit_code() const { return unreadable_ ? 2 : rejected_ ? 1 : 0; }

 private:
  void finish_report(const FileReport& report) {
    if (!report.clean()) rejected_ = true;
    // A file with nothing usable in it (empty, not MDFF) could not be read at all.
    if (report.fatal && report.readings == 0 && report.register_reads == 0) unreadable_ = true;
    const std::string text =
        options_.json_report ? report_to_json(report) + "\n" : report_to_text(report);
    std::fputs(text.c_str(), stderr);
  }

  const Options& options_;
  PrintingSink& sink_;
  std::unique_ptr<Nem12Reader> reader_;
  bool rejected_ = false, unreadable_ = false;
};

}  // namespace

int run_parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--strict") {
      options.strict = true;
    } else if (arg == "--no-readings") {
      options.readings = false;
    } else if ((arg == "--format" || arg == "--report") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (value != "csv" && value != "json" && value != "text") {
        std::fprintf(stderr, "meterd parse: unknown %s '%s'\n%s", arg.c_str(), value.c_str(),
                     kUsage);
        return 2;
      }
      (arg == "--format" ? options.json : options.json_report) = value == "json";
    } else if (arg == "--output" && i + 1 < argc) {
      const std::string value = argv[++i];
      if (value == "readings") {
        options.output = Output::readings;
      } else if (value == "register-reads") {
        options.output = Output::register_reads;
      } else if (value == "b2b-events") {
        options.output = Output::b2b_events;
      } else {
        std::fprintf(stderr, "meterd parse: unknown --output '%s'\n%s", value.c_str(), kUsage);
        return 2;
      }
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "meterd parse: unknown option '%s'\n%s", arg.c_str(), kUsage);
      return 2;
    } else {
      options.files.push_back(arg);
    }
  }
  if (options.files.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  PrintingSink sink(options);
  if (options.readings && !options.json) {
    switch (options.output) {
      case Output::readings:
        append_csv_header(sink.buffer());
        break;
      case Output::register_reads:
        append_register_read_csv_header(sink.buffer());
        break;
      case Output::b2b_events:
        append_b2b_event_csv_header(sink.buffer());
        break;
    }
    sink.flush();
  }
  int worst = 0;
  for (const auto& file : options.files) {
    ParseVisitor visitor(options, sink);
    const InputResult result = read_input(file, visitor);
    int code = visitor.exit_code();
    if (!result.opened) {
      std::fprintf(stderr, "meterd parse: %s\n", result.error.c_str());
      code = 2;
    }
    worst = std::max(worst, code);
  }
  std::fflush(stdout);
  return worst;
}

}  // namespace meterd::app
