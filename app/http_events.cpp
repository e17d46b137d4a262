// GET /v1/ingests/{id}/events: the progress of one ingest as Server-Sent Events, from its
// upload to its final report. {id} is an ingest id (the sha256 of the body, which the client
// knows before it sends: PUT /v1/uploads/{id} is followed while its ranges arrive) or the name
// of a file dropped in the spool (incoming/<tenant>/NAME). Every kTick the state is looked at
// and an event written when it changed:
//   event: progress  {"state":"uploading|queued|reading", bytes_received, bytes, bytes_read,
//                     readings_parsed, readings_durable, rejects, attempt}
//   event: report    the final answer, as GET /v1/ingests/{id} gives it; then the stream ends.
// The body is close-delimited (Connection: close), so no framing is needed.
#include <chrono>
#include <system_error>

#include "actors/progress.hpp"
#include "app/http_session.hpp"
#include "protocol/reading_format.hpp"

namespace meterd::app::http_internal {
namespace {

constexpr auto kTick = std::chrono::milliseconds(200);

void field(std::string& out, const char* key, std::uint64_t value) {
  out += ",\"";
  out += key;
  out += "\":" + std::to_string(value);
}

}  // namespace

template <class Stream>
std::string Session<Stream>::ingest_event() {
  const bool by_id = Uploads::valid_id(id_);
  const auto& board = sh_.metrics.progress;
  std::shared_ptr<const actors::IngestProgress> live;
  if (by_id) {
    for (const char* ext : {".dat", ".mrb"})
      if (!live)
        live = board.find(actors::ProgressBoard::key(tenant_, HttpIntake::file_name(id_, ext)));
  } else {
    live = board.find(actors::ProgressBoard::key(tenant_, id_));
  }
  std::string state;
  std::uint64_t received = 0;
  if (live) {
    state = "reading";
  } else if (by_id) {
    const auto r = sh_.intake.lookup(tenant_, id_);
    if (r && !r->pending) return "event: report\ndata: " + ingest_result_json(id_, *r) + "\n\n";
    received = sh_.uploads.received(Uploads::key(tenant_, id_));
    if (r && r->pending)
      state = "queued";
    else if (received > 0)
      state = "uploading";
  } else {
    if (const auto report = sh_.intake.spool_report(tenant_, id_))
      return "event: report\ndata: " + *report + "\n\n";
    if (sh_.intake.spool_waiting(tenant_, id_)) state = "queued";
  }
  if (state.empty()) return {};
  std::string out = "event: progress\ndata: {\"id\":";
  append_json_string(out, id_);
  out += ",\"state\":\"" + state + "\"";
  field(out, "bytes_received", live ? live->bytes.load() : received);
  field(out, "bytes", live ? live->bytes.load() : 0);
  field(out, "bytes_read", live ? live->bytes_read.load() : 0);
  field(out, "readings_parsed", live ? live->readings_parsed.load() : 0);
  field(out, "readings_durable", live ? live->readings_durable.load() : 0);
  field(out, "rejects", live ? live->rejects.load() : 0);
  field(out, "attempt", live ? live->attempt.load() : 0);
  out += "}\n\n";
  return out;
}

template <class Stream>
void Session<Stream>::ingest_events(const std::string& id) {
  id_ = id;
  std::string first = ingest_event();
  if (first.empty()) {
    if (!sh_.config.tenants.empty()) audit_refused(404, "unknown ingest id of this tenant");
    return respond(http::status::not_found, json_error("unknown ingest id or spool file"),
                   keep_alive_);
  }
  answered_ = true;
  sh_.hm.responses_2xx.add();
  events_sent_ = first;
  events_deadline_ = Clock::now() + std::chrono::milliseconds(sh_.config.http_ack_timeout_ms);
  write_event(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
      "Connection: close\r\n\r\n" +
      first);
}

template <class Stream>
void Session<Stream>::write_event(std::string text) {
  event_frame_ = std::move(text);
  const bool last = event_frame_.find("event: report\n") != std::string::npos ||
                    event_frame_.find("event: timeout\n") != std::string::npos;
  lowest().expires_after(std::chrono::milliseconds(sh_.config.http_request_timeout_ms));
  net::async_write(stream_, net::buffer(event_frame_),
                   [self = this->shared_from_this(), last](beast::error_code ec, std::size_t) {
                     if (ec || last) return self->close();
                     self->lowest().expires_never();
                     self->ack_timer_.expires_after(kTick);
                     self->ack_timer_.async_wait([self](beast::error_code e) {
                       if (!e) self->next_event();
                     });
                   });
}

template <class Stream>
void Session<Stream>::next_event() {
  std::string event = ingest_event();
  if (Clock::now() > events_deadline_)
    event = "event: timeout\ndata: {\"error\":\"not finished within http_ack_timeout_ms\"}\n\n";
  // Unchanged, or between two owners for a moment (claimed, not yet read): look again later.
  if (event.empty() || event == events_sent_) {
    ack_timer_.expires_after(kTick);
    ack_timer_.async_wait([self = this->shared_from_this()](beast::error_code e) {
      if (!e) self->next_event();
    });
    return;
  }
  events_sent_ = event;
  write_event(std::move(event));
}

template void Session<PlainStream>::ingest_events(const std::string&);
template void Session<TlsStream>::ingest_events(const std::string&);

}  // namespace meterd::app::http_internal
