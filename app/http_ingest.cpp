#include "app/http_ingest.hpp"

#include <memory>

#include "app/http_session.hpp"
#include "protocol/batch_file.hpp"
#include "protocol/input_sniff.hpp"
#include "protocol/ndjson_reader.hpp"
#include "protocol/reading_decoder.hpp"
#include "protocol/reading_format.hpp"
#include "protocol/sha256.hpp"

namespace meterd::app::http_internal {
namespace {

std::string issues_json(const FileReport& report) {
  std::string out = "[";
  std::size_t n = 0;
  for (const auto& issue : report.issues) {
    if (issue.severity == Severity::warning) continue;
    if (n++ == kMaxIssuesInResponse) break;
    if (n > 1) out += ',';
    out += "{\"line\":" + std::to_string(issue.line) + ",\"field\":";
    append_json_string(out, issue.field);
    out += ",\"reason\":";
    append_json_string(out, issue.reason);
    out += '}';
  }
  return out + "]";
}

// The members of a body, each sniffed like the pipeline sniffs a file and, while it is NDJSON,
// decoded.
class NdjsonBodyVisitor final : public InputVisitor, public ReadingSink {
 public:
  NdjsonBodyVisitor(NdjsonBody& out, std::string_view tenant) : out_(out), tenant_(tenant) {}

  void on_member(const InputMember& member) override {
    finish_member();
    ReaderOptions options;
    options.name = member.name;
    options.tenant = tenant_;
    reader_ = std::make_unique<NdjsonReader>(options, *this);
    sniffer_ = ReadingFormatSniffer();
  }
  // A chunk followed by NdjsonReader::kPadding readable bytes: its lines are decoded in place.
  void on_padded_chunk(std::string_view bytes) {
    padded_ = true;
    on_chunk(bytes);
    padded_ = false;
  }
  void on_chunk(std::string_view bytes) override {
    if (out_.not_ndjson) return;
    if (sniffer_.format() == ReadingFormat::undecided) {
      switch (sniffer_.feed(bytes)) {
        case ReadingFormat::undecided:
          // The reader strips a BOM only from the start of its first chunk: it gets the
          // leading bytes together once they are known to be NDJSON, or enough of them.
          held_.append(bytes);
          if (held_.size() >= kMaxHeldBytes) feed_held();
          return;
        case ReadingFormat::ndjson:
          if (held_.empty()) break;
          held_.append(bytes);
          feed_held();
          return;
        default:
          out_.not_ndjson = true;
          return;
      }
    }
    if (padded_)
      reader_->feed_in_place(bytes);
    else
      reader_->feed(bytes);
  }
  void on_member_end() override { finish_member(); }
  void on_error(const std::string& member, const std::string& message) override {
    out_.error = member + ": " + message;
  }
  void on_readings(ReadingBatch& batch) override {
    if (out_.rejects == 0 && (!reader_ || reader_->report().rejects() == 0)) batches_.append(batch);
    batch.clear();
  }

  void finish() {
    finish_member();
    if (out_.error.empty() && !out_.not_ndjson && out_.rejects == 0 && out_.readings > 0)
      out_.batch_file = batches_.finish(source_lines_, source_bytes_);
  }

 private:
  static constexpr std::size_t kMaxHeldBytes = 64 * 1024;

  void feed_held() {
    if (!held_.empty()) reader_->feed(held_);
    held_.clear();
  }
  void finish_member() {
    if (!reader_) return;
    if (!out_.not_ndjson) feed_held();  // a member of whitespace only: no readings, no issue
    held_.clear();
    reader_->finish();
    const auto& r = reader_->report();
    out_.readings += r.readings;
    out_.rejects += r.rejects();
    source_lines_ += r.lines;
    source_bytes_ += r.bytes;
    if (out_.issues.issues.size() < kMaxIssuesInResponse)
      for (const auto& i : r.issues)
        if (i.severity != Severity::warning) out_.issues.add(i);
    reader_.reset();
  }

  NdjsonBody& out_;
  BatchFileWriter batches_;
  std::uint64_t source_lines_ = 0, source_bytes_ = 0;
  std::unique_ptr<NdjsonReader> reader_;
  ReadingFormatSniffer sniffer_;
  std::string held_;  // leading bytes of the member while its format is undecided
  bool padded_ = false;
  std::string tenant_;
};

}  // namespace

NdjsonBody decode_ndjson_body(std::string_view body, const InputLimits& limits, bool padded,
                              std::string_view tenant) {
  NdjsonBody out;
  NdjsonBodyVisitor visitor(out, tenant);
  if (padded && sniff_input_kind(body.substr(0, kSniffBytes)) == InputKind::plain) {
    // Uncompressed, as most bodies are: the reader decodes the body where it is, instead of
    // the input walk copying it into chunks and the reader copying those into its buffer.
    visitor.on_member(InputMember{.name = "request"});
    visitor.on_padded_chunk(body);
    visitor.on_member_end();
    visitor.finish();
  } else {
    const auto opened = read_input_buffer("request", body, visitor, limits);
    visitor.finish();
    if (!opened.opened) out.error = opened.error;
  }
  if (!out.error.empty()) out.batch_file.clear();
  return out;
}

template <class Stream>
void Session<Stream>::ingest_readings() {
  auto& body = parser_->get().body().bytes;
  if (body.empty()) return reject_ingest(http::status::bad_request, json_error("empty body"));
  InputLimits limits;
  limits.max_expanded_bytes = 16ull * sh_.config.http_max_body_bytes;
  // The padding lets the decoder read the body in place (AppendStringBody reserved it).
  const std::size_t length = body.size();
  body.append(NdjsonReader::kPadding, '\0');
  auto decoded =
      decode_ndjson_body(std::string_view(body).substr(0, length), limits, true, tenant_);
  body.resize(length);
  if (!decoded.error.empty())
    return reject_ingest(http::status::bad_request,
                         json_error("cannot read the body: " + decoded.error));
  if (decoded.not_ndjson)
    return reject_ingest(http::status::unsupported_media_type,
                         json_error("expected NDJSON: one JSON object per line"));
  if (decoded.rejects > 0) {
    sh_.hm.invalid_lines.add(decoded.rejects);
    for (const auto& issue : decoded.issues.issues)
      if (issue.field == "tenant") {  // reaching for another tenant: on record
        audit_refused(422, "an NDJSON line names another tenant");
        break;
      }
    std::string out =
        "{\"error\":\"invalid lines: nothing of this request was stored\","
        "\"rejected_lines\":" +
        std::to_string(decoded.rejects) + ",\"valid_lines\":" + std::to_string(decoded.readings) +
        ",\"issues\":" + issues_json(decoded.issues) + "}\n";
    return reject_ingest(http::status::unprocessable_entity, std::move(out));
  }
  if (decoded.readings == 0)
    return reject_ingest(http::status::bad_request, json_error("no readings"));
  submit(".mrb", std::move(decoded.batch_file));
}

template <class Stream>
void Session<Stream>::reject_ingest(http::status status, std::string body) {
  release();
  respond(status, std::move(body), keep_alive_);
}

// The id is the SHA-256 of the batch file, not of the body: the decode is deterministic, so a
// body sent again gets the same id, and the batch file is ~10 bytes a reading where the body is
// ~300 (hashing the body cost ~15 % of the central's CPU at one reading per line).
template <class Stream>
void Session<Stream>::submit(std::string_view ext, std::string batch_file) {
  auto& body = parser_->get().body().bytes;
  sh_.hm.ingest_bytes.add(body.size());
  sh_.bodies.give(std::move(body));  // decoded: the batch file holds it now
  body = std::string();
  Sha256 hash;
  hash.update(batch_file);
  id_ = hash.hex_digest();
  sh_.intake.submit(tenant_, id_, ext, batch_file, sh_.auth.token_id(token_), wait_for_ack());
}

template <class Stream>
HttpIntake::Callback Session<Stream>::wait_for_ack() {
  auto self = this->shared_from_this();
  ack_timer_.expires_after(std::chrono::milliseconds(sh_.config.http_ack_timeout_ms));
  ack_timer_.async_wait([self](beast::error_code ec) {
    if (!ec) self->on_ack_timeout();
  });
  return [self](const IngestResult& r) {
    net::post(self->stream_.get_executor(), [self, r] { self->on_ingested(r); });
  };
}

template <class Stream>
void Session<Stream>::on_ingested(const IngestResult& r) {
  if (answered_) return;
  ack_timer_.cancel();
  release();
  std::string out = "{\"id\":\"" + r.id + "\",\"status\":\"" + to_string(r.status) +
                    "\",\"readings\":" + std::to_string(r.readings) +
                    ",\"file_sequence\":" + std::to_string(r.file_sequence);
  if (!r.report_json.empty()) out += ",\"report\":" + r.report_json;
  out += "}\n";
  switch (r.status) {
    case actors::FileStatus::durable:
    case actors::FileStatus::duplicate: {
      const auto us =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - received_);
      sh_.hm.ack_latency.observe_us(static_cast<std::uint64_t>(us.count()));
      sh_.hm.ingest_requests.add();
      sh_.hm.ingest_readings.add(r.readings);
      if (!tenant_.empty()) sh_.metrics.tenants.of(tenant_).ingest_requests.add();
      return respond(http::status::ok, std::move(out), keep_alive_);
    }
    case actors::FileStatus::rejected:
      if (r.forbidden) {  // the ingest's own audit record says so too
        sh_.hm.forbidden.add();
        if (!tenant_.empty()) sh_.metrics.tenants.of(tenant_).forbidden.add();
        return respond(http::status::forbidden, std::move(out), keep_alive_);
      }
      return respond(http::status::unprocessable_entity, std::move(out), keep_alive_);
    case actors::FileStatus::parked:
      return respond(http::status::service_unavailable, std::move(out), false,
                     {{"Retry-After", "5"}});
    default:  // dead_letter, failed: not (all) in the store
      return respond(http::status::internal_server_error, std::move(out), keep_alive_,
                     {{"Retry-After", "30"}});
  }
}

template <class Stream>
void Session<Stream>::on_ack_timeout() {
  if (answered_) return;
  release();
  respond(http::status::service_unavailable,
          "{\"id\":\"" + id_ +
              "\",\"status\":\"pending\",\"error\":\"not durable within http_ack_timeout_ms; "
              "retry (harmless) or poll /v1/ingests/" +
              id_ + "\"}\n",
          false, {{"Retry-After", "5"}});
}

template <class Stream>
void Session<Stream>::ingest_status(const std::string& id) {
  auto r = sh_.intake.lookup(tenant_, id);
  if (!r) {
    // With tenants, an id may be another tenant's: asking for it is on record.
    if (!sh_.config.tenants.empty()) audit_refused(404, "unknown ingest id of this tenant");
    return respond(http::status::not_found, json_error("unknown ingest id"), keep_alive_);
  }
  if (r->pending)
    return respond(http::status::accepted, "{\"id\":\"" + id + "\",\"status\":\"pending\"}\n",
                   keep_alive_);
  respond(http::status::ok, ingest_result_json(id, *r), keep_alive_);
}

template <class Stream>
std::string Session<Stream>::ingest_result_json(const std::string& id,
                                                const IngestResult& r) const {
  if (!r.report_json.empty() && r.readings == 0 && r.file_sequence == 0)
    return r.report_json;  // from reports/
  return "{\"id\":\"" + id + "\",\"status\":\"" + to_string(r.status) +
         "\",\"readings\":" + std::to_string(r.readings) +
         ",\"file_sequence\":" + std::to_string(r.file_sequence) +
         ",\"report\":" + (r.report_json.empty() ? "null" : r.report_json) + "}\n";
}

// route() (http_session.cpp) calls these; the rest of this file's members follow from them.
template void Session<PlainStream>::ingest_readings();
template void Session<TlsStream>::ingest_readings();
template HttpIntake::Callback Session<PlainStream>::wait_for_ack();
template HttpIntake::Callback Session<TlsStream>::wait_for_ack();
template void Session<PlainStream>::reject_ingest(http::status, std::string);
template void Session<TlsStream>::reject_ingest(http::status, std::string);
template void Session<PlainStream>::ingest_status(const std::string&);
template void Session<TlsStream>::ingest_status(const std::string&);
template std::string Session<PlainStream>::ingest_result_json(const std::string&,
                                                              const IngestResult&) const;
template std::string Session<TlsStream>::ingest_result_json(const std::string&,
                                                            const IngestResult&) const;

}  // namespace meterd::app::http_internal
