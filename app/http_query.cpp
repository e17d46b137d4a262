#include "app/http_query.hpp"

#include <cstdio>
#include <thread>
#include <utility>
#include <vector>

#include "actors/log.hpp"
#include "app/http_session.hpp"
#include "protocol/iso_time.hpp"
#include "protocol/reading_format.hpp"
#include "storage/rollup_store.hpp"
#include "storage/store.hpp"

namespace meterd::app::http_internal {
namespace {

constexpr std::size_t kQueryChunkBytes = 256u << 10;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0) {
        out += s[i];
      } else {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
      }
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> query_params(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto item = q.substr(0, amp);
    auto eq = item.find('=');
    out.emplace_back(url_decode(item.substr(0, eq)),
                     eq == std::string_view::npos ? "" : url_decode(item.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

namespace {

// GET /v1/readings, /v1/register-reads, /v1/b2b-events.
enum class QueryTable { readings, register_reads, b2b_events, rollup };

// The producer thread: the winners of the table as CSV or NDJSON, in chunks framed for
// Transfer-Encoding: chunked.
// Who asked, for the audit trail: what, and how many rows went out.
struct QueryAudit {
  storage::AuditLog* log = nullptr;
  std::string tenant, token, path, query;
  actors::TenantCounters* counters = nullptr;  // the tenant's, when tenants are configured
  mutable bool counted = false;
  // Counted once; for a complete answer before its last chunk goes out, so that a client that
  // has read it and asks for /metrics sees its query there.
  void count(std::uint64_t rows) const {
    if (counters && !counted) counters->queries.add(), counters->query_rows.add(rows);
    counted = true;
  }
  void record(std::uint64_t rows, const char* outcome) const {
    count(rows);
    if (!log) return;
    std::string fields = "\"path\":";
    append_json_string(fields, path);
    fields += ",\"query\":";
    append_json_string(fields, query);
    fields += ",\"rows\":" + std::to_string(rows) + ",\"outcome\":\"" + outcome + "\"";
    try {
      log->append("query", tenant, token, fields);
    } catch (const std::exception& e) {
      actors::log::error("audit_write_failed", {{"kind", "query"}, {"error", e.what()}});
    }
  }
};

// `rollups`: the one rollup GET /v1/rollups/NAME reads (table rollup only).
void run_query(QueryJob& job, const storage::Store& store, const storage::QueryFilter& filter,
               QueryTable table, bool csv, const QueryAudit& audit,
               const storage::RollupStore* rollups) {
  struct Gone {};
  std::string chunk;
  std::uint64_t rows = 0;
  auto frame = [&] {
    // One buffer per chunk: Beast 1.74's flat_stream (under ssl_stream) spins on a sequence
    // of two buffers.
    char size[24];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    std::string framed(size, static_cast<std::size_t>(n));
    framed += chunk;
    framed += "\r\n";
    chunk.clear();
    if (!job.push(std::move(framed))) throw Gone{};
  };
  try {
    auto spill = [&] {
      if (chunk.size() >= kQueryChunkBytes) frame();
    };
    if (table == QueryTable::rollup) {
      const storage::RollupDefinition& d = rollups->definitions().front();
      if (csv) append_rollup_csv_header(chunk, d);
      rollups->query(d.name, filter, [&](const std::vector<storage::RecordRow>& found) {
        for (const auto& row : found) append_rollup_row(chunk, d, row, !csv), ++rows, spill();
      });
    } else if (table == QueryTable::register_reads) {
      if (csv) append_register_read_csv_header(chunk);
      store.query_register_reads(filter, [&](const std::vector<RegisterReadPeriod>& reads) {
        for (const auto& read : reads) append_register_read(chunk, read, !csv), ++rows, spill();
      });
    } else if (table == QueryTable::b2b_events) {
      if (csv) append_b2b_event_csv_header(chunk);
      store.query_b2b_events(filter, [&](const std::vector<B2BEvent>& events) {
        for (const auto& event : events) append_b2b_event(chunk, event, !csv), ++rows, spill();
      });
    } else {
      if (csv) append_csv_header(chunk);
      store.query(filter, [&](const ReadingBatch& batch) {
        batch.for_each([&](const ReadingRow& row) {
          if (csv)
            append_csv_row(chunk, row);
          else
            append_json_row(chunk, row);
          ++rows;
          spill();
        });
      });
    }
    if (!chunk.empty()) frame();
    audit.count(rows);
    if (!job.push("0\r\n\r\n")) throw Gone{};
    job.finish(true);
    audit.record(rows, "complete");
  } catch (const Gone&) {
    audit.record(rows, "client_gone");
  } catch (const std::exception& e) {
    actors::log::warn("http_query_aborted", {{"error", e.what()}});
    job.finish(false);
    audit.record(rows, "failed");
  }
}

}  // namespace

bool QueryJob::push(std::string frame) {
  std::function<void()> to_wake;
  {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return frames_.size() < kMaxFrames || cancelled_; });
    if (cancelled_) return false;
    frames_.push_back(std::move(frame));
    if (waiting_) waiting_ = false, to_wake = wake;
  }
  if (to_wake) to_wake();
  return true;
}

void QueryJob::finish(bool ok) {
  std::function<void()> to_wake;
  {
    std::lock_guard lock(mutex_);
    done_ = true;
    failed_ = !ok;
    if (waiting_) waiting_ = false, to_wake = wake;
  }
  if (to_wake) to_wake();
}

void QueryJob::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  room_.notify_all();
}

QueryJob::Next QueryJob::take(std::string& frame) {
  std::lock_guard lock(mutex_);
  if (!frames_.empty()) {
    frame = std::move(frames_.front());
    frames_.pop_front();
    room_.notify_all();
    return Next::frame;
  }
  if (done_) return failed_ ? Next::failed : Next::done;
  waiting_ = true;
  return Next::wait;
}

// Streamed as a chunked body, batch by batch: memory stays bounded however much matches (the
// record tables are read a month partition at a time).
template <class Stream>
void Session<Stream>::query() {
  const QueryTable table = path_ == "/v1/register-reads"         ? QueryTable::register_reads
                           : path_ == "/v1/b2b-events"           ? QueryTable::b2b_events
                           : path_.rfind("/v1/rollups/", 0) == 0 ? QueryTable::rollup
                                                                 : QueryTable::readings;
  storage::QueryFilter filter;
  filter.tenant = tenant_;  // authorize() decided it: a query never reaches across
  bool csv = false;
  for (const auto& [k, v] : query_params(query_)) {
    if (k == "tenant") {
      continue;  // checked by authorize()
    } else if (k == "nmi") {
      filter.nmi = v;
    } else if (k == "suffix") {
      filter.suffix = v;
    } else if (k == "from" || k == "to") {
      epoch_seconds t = 0;
      if (!parse_iso_time(v, t, /*nem_if_no_offset=*/true, /*allow_date=*/true))
        return respond(http::status::bad_request,
                       json_error(k + ": expected YYYY-MM-DD or an ISO-8601 time"), keep_alive_);
      (k == "from" ? filter.from : filter.to) = t;
    } else if (k == "format") {
      if (v != "csv" && v != "json")
        return respond(http::status::bad_request, json_error("format: csv or json"), keep_alive_);
      csv = v == "csv";
    } else {
      return respond(http::status::bad_request, json_error("unknown parameter " + k), keep_alive_);
    }
  }
  std::shared_ptr<const storage::RollupStore> rollups;
  if (table == QueryTable::rollup) {
    try {
      rollups = storage::RollupStore::open(sh_.config.data_dir, path_.substr(12));
    } catch (const std::invalid_argument&) {
      return respond(http::status::not_found, json_error("no rollup '" + path_.substr(12) + "'"),
                     keep_alive_);
    }
  }
  storage::StoreOptions options;
  options.read_only = true;
  auto store = std::make_shared<storage::Store>(sh_.config.data_dir, options);
  answered_ = true;
  sh_.hm.responses_2xx.add();
  auto job = std::make_shared<QueryJob>();
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: ";
  head += csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
  head += "\r\nTransfer-Encoding: chunked\r\n";
  head += keep_alive_ ? "\r\n" : "Connection: close\r\n\r\n";
  job->push(std::move(head));  // the queue is empty: does not wait
  // A strong reference: while the session waits for the next chunk, no I/O holds it. The
  // job (and with it this reference) goes when the producer thread ends.
  job->wake = [self = this->shared_from_this()] {
    net::post(self->stream_.get_executor(), [self] { self->pump_query(); });
  };
  query_job_ = job;
  QueryAudit audit{
      sh_.audit, tenant_, sh_.auth.token_id(token_),
      path_,     query_,  tenant_.empty() ? nullptr : &sh_.metrics.tenants.of(tenant_)};
  std::thread([job, store, filter, table, csv, audit = std::move(audit), rollups] {
    run_query(*job, *store, filter, table, csv, audit, rollups.get());
  }).detach();
  pump_query();
}

// Writes the next frame of the query answer, or waits for the producer to wake us.
template <class Stream>
void Session<Stream>::pump_query() {
  auto job = query_job_;
  if (!job) return;
  switch (job->take(query_frame_)) {
    case QueryJob::Next::wait:
      return;
    case QueryJob::Next::failed:  // a failed merge: cut the chunked body
      query_job_.reset();
      return close();
    case QueryJob::Next::done:
      query_job_.reset();
      if (!keep_alive_) return close();
      return read_header();
    case QueryJob::Next::frame:
      break;
  }
  lowest().expires_after(std::chrono::milliseconds(sh_.config.http_request_timeout_ms));
  net::async_write(stream_, net::buffer(query_frame_),
                   [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                     if (ec) {
                       self->query_job_->cancel();
                       self->query_job_.reset();
                       return self->close();
                     }
                     self->pump_query();
                   });
}

template void Session<PlainStream>::query();
template void Session<TlsStream>::query();

}  // namespace meterd::app::http_internal
