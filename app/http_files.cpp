// POST /v1/files and /v1/uploads (app/http_uploads.hpp): the body is written to the spool as
// it arrives, through one chunk of memory, whatever its size or transfer encoding.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <system_error>

#include "actors/log.hpp"
#include "app/http_session.hpp"
#include "protocol/reading_format.hpp"

namespace meterd::app::http_internal {
namespace {

// How often a body of unknown length looks at the free space left.
constexpr std::uint64_t kSpaceCheckBytes = 64ull << 20;

// "bytes FIRST-LAST/TOTAL" (RFC 9110), LAST inclusive.
bool parse_content_range(std::string_view text, std::uint64_t& first, std::uint64_t& last,
                         std::uint64_t& total) {
  constexpr std::string_view kUnit = "bytes ";
  if (text.substr(0, kUnit.size()) != kUnit) return false;
  text.remove_prefix(kUnit.size());
  const auto number = [&](std::uint64_t& out, char end) {
    const auto [at, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc{}) return false;
    text.remove_prefix(static_cast<std::size_t>(at - text.data()));
    if (end == '\0') return text.empty();
    if (text.empty() || text.front() != end) return false;
    text.remove_prefix(1);
    return true;
  };
  return number(first, '-') && number(last, '/') && number(total, '\0') && first <= last &&
         last < total;
}

// Unique per body in this process: two requests with the same file never share a staging file.
std::string staging_tag() {
  static std::atomic<std::uint64_t> counter{0};
  return "upload-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

std::string offset_json(const std::string& id, std::uint64_t offset, std::string_view error = {}) {
  std::string out = "{\"id\":\"" + id + "\",\"offset\":" + std::to_string(offset);
  if (!error.empty()) {
    out += ",\"error\":";
    append_json_string(out, error);
  }
  return out + "}\n";
}

bool disk_full(const std::exception& e) {
  const auto* error = dynamic_cast<const std::system_error*>(&e);
  return error && (error->code().value() == ENOSPC || error->code().value() == EDQUOT);
}

}  // namespace

// Every refusal before the body is read closes the connection: the unread body would otherwise
// be taken for the next request (a client that asked "Expect: 100-continue" has not sent it).
template <class Stream>
void Session<Stream>::start_file_body() {
  std::uint64_t needed = declared_length().value_or(0);
  try {
    if (path_ == "/v1/files") {
      file_ =
          std::make_unique<SpoolFile>(sh_.intake.staging_path(tenant_, staging_tag()), false, true);
    } else if (!start_upload_range(needed)) {
      return;  // answered
    }
    const std::uint64_t free = free_bytes(file_->path().parent_path());
    if (free < needed + sh_.config.spool_reserve_bytes) {
      end_upload();
      file_.reset();
      release();
      return respond(http::status::insufficient_storage,
                     json_error("the spool cannot take " + std::to_string(needed) + " bytes: " +
                                std::to_string(free) + " are free and spool_reserve_bytes keeps " +
                                std::to_string(sh_.config.spool_reserve_bytes)),
                     false, {{"Retry-After", "60"}});
    }
  } catch (const std::exception& e) {
    return file_failed(e);
  }
  file_parser_.emplace(std::move(*parser_));
  parser_.reset();
  file_parser_->body_limit(path_ == "/v1/files" ? sh_.config.http_max_file_bytes
                                                : sh_.config.http_max_body_bytes);
  chunk_.resize(kBodyReadBytes);
  next_space_check_ = file_->written() + kSpaceCheckBytes;
  continue_then(&Session::read_file_chunk);
}

// Checks a PUT /v1/uploads/<id> and opens its part; false when it was refused (answered).
template <class Stream>
bool Session<Stream>::start_upload_range(std::uint64_t& needed) {
  const auto refuse = [&](http::status status, std::string body,
                          std::initializer_list<std::pair<const char*, std::string>> headers = {}) {
    release();
    respond(status, std::move(body), false, headers);
    return false;
  };
  const std::string id = path_.substr(12);
  if (!Uploads::valid_id(id))
    return refuse(http::status::bad_request,
                  json_error("an upload's id is the sha256 of its file: 64 lower-case hex digits"));
  const auto range = parser_->get()[http::field::content_range];
  UploadRange r{id, Uploads::key(tenant_, id)};
  if (!parse_content_range(std::string_view(range.data(), range.size()), r.first, r.last, r.total))
    return refuse(http::status::bad_request,
                  json_error("Content-Range: bytes FIRST-LAST/TOTAL is required"));
  if (declared_length() != r.last - r.first + 1)
    return refuse(http::status::bad_request,
                  json_error("Content-Length must be the length of the Content-Range"));
  if (r.total > sh_.config.http_max_file_bytes)
    return refuse(http::status::payload_too_large,
                  json_error("file larger than http_max_file_bytes"));
  if (!sh_.uploads.claim(r.key))
    return refuse(http::status::conflict,
                  offset_json(id, sh_.uploads.received(r.key),
                              "another request is writing this upload; retry"),
                  {{"Retry-After", "1"}});
  upload_ = r;
  const std::uint64_t received = sh_.uploads.received(r.key);
  if (r.first > received) {
    end_upload();
    return refuse(http::status::conflict,
                  offset_json(id, received, "the upload goes on from its offset"));
  }
  // A range sent again (its answer was lost) replaces what it covers.
  if (r.first < received &&
      ::truncate(sh_.uploads.part_path(r.key).c_str(), static_cast<off_t>(r.first)) != 0)
    throw std::system_error(errno, std::generic_category(), "truncate upload " + id);
  file_ = std::make_unique<SpoolFile>(sh_.uploads.part_path(r.key), true, false);
  file_->keep();  // bytes received stay, acknowledged or not: a resumed range needs them
  needed = r.total - r.first;
  return true;
}

template <class Stream>
void Session<Stream>::read_file_chunk() {
  auto& body = file_parser_->get().body();
  body.data = chunk_.data();
  body.size = chunk_.size();
  // Per chunk: a large body may take long, a stalled one may not.
  lowest().expires_after(std::chrono::milliseconds(sh_.config.http_request_timeout_ms));
  http::async_read(stream_, buffer_, *file_parser_,
                   [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                     self->on_file_chunk(ec);
                   });
}

template <class Stream>
void Session<Stream>::on_file_chunk(beast::error_code ec) {
  if (ec == http::error::need_buffer) ec = {};
  const std::size_t got = chunk_.size() - file_parser_->get().body().size;
  try {
    if (got > 0) file_->write(std::string_view(chunk_.data(), got));
    if (file_->written() >= next_space_check_) {  // a chunked body said nothing of its size
      next_space_check_ += kSpaceCheckBytes;
      if (free_bytes(file_->path().parent_path()) < sh_.config.spool_reserve_bytes)
        throw std::system_error(ENOSPC, std::generic_category(),
                                "the spool is down to spool_reserve_bytes");
    }
  } catch (const std::exception& e) {
    return file_failed(e);
  }
  if (ec) {
    end_upload();
    file_.reset();
    if (ec == http::error::body_limit) {
      release();
      return respond(
          http::status::payload_too_large,
          json_error(path_ == "/v1/files" ? "file larger than http_max_file_bytes"
                                          : "request body larger than http_max_body_bytes"),
          false);
    }
    if (ec == beast::error::timeout || ec == http::error::partial_message || ec == net::error::eof)
      return close();  // the client went away or stalled
    release();
    return respond(http::status::bad_request, json_error(ec.message()), false);
  }
  if (!file_parser_->is_done()) return read_file_chunk();
  lowest().expires_never();
  if (upload_.id.empty())
    file_body_done();
  else
    upload_range_done();
}

template <class Stream>
void Session<Stream>::file_body_done() {
  if (file_->written() == 0) {
    file_.reset();
    return reject_ingest(http::status::bad_request, json_error("empty body"));
  }
  id_ = file_->hex_digest();
  file_->close();
  sh_.hm.ingest_bytes.add(file_->written());
  const std::filesystem::path written = file_->path();
  file_->keep();
  file_.reset();
  try {
    sh_.intake.submit_file(tenant_, id_, ".dat", written, sh_.auth.token_id(token_),
                           wait_for_ack());
  } catch (const std::exception& e) {
    ack_timer_.cancel();
    file_failed(e);
  }
}

// fsync and, after the last range, hashing the whole file: both block, so neither runs here.
template <class Stream>
void Session<Stream>::upload_range_done() {
  net::post(sh_.blocking, [self = this->shared_from_this()] {
    const UploadRange r = self->upload_;
    std::string error;
    bool matches = false;
    try {
      self->file_->sync();
      self->file_->close();
      if (r.last + 1 == r.total)
        matches = self->sh_.uploads.received(r.key) == r.total &&
                  Uploads::hashes_to(self->file_->path(), r.id);
    } catch (const std::exception& e) {
      error = e.what();
    }
    net::post(self->stream_.get_executor(), [self, r, error, matches] {
      const std::filesystem::path part = self->file_->path();
      self->file_.reset();
      if (!error.empty()) {
        self->end_upload();
        self->release();
        return self->respond(http::status::internal_server_error, json_error(error), false);
      }
      if (r.last + 1 < r.total) {
        self->end_upload();
        self->release();
        return self->respond(http::status::ok, offset_json(r.id, r.last + 1), self->keep_alive_);
      }
      if (!matches) {
        ::unlink(part.c_str());
        self->end_upload();
        self->release();
        return self->respond(http::status::unprocessable_entity,
                             offset_json(r.id, 0,
                                         "the uploaded bytes do not hash to the upload's id; "
                                         "the upload is discarded: send it again from 0"),
                             self->keep_alive_);
      }
      self->id_ = r.id;
      self->sh_.hm.ingest_bytes.add(r.total);
      try {
        self->sh_.intake.submit_file(self->tenant_, r.id, ".dat", part,
                                     self->sh_.auth.token_id(self->token_), self->wait_for_ack());
      } catch (const std::exception& e) {
        self->ack_timer_.cancel();
        self->end_upload();
        return self->file_failed(e);
      }
      self->end_upload();
    });
  });
}

template <class Stream>
void Session<Stream>::file_failed(const std::exception& e) {
  end_upload();
  file_.reset();
  release();
  actors::log::error("http_file_failed", {{"path", path_}, {"error", e.what()}});
  if (disk_full(e))
    return respond(http::status::insufficient_storage,
                   json_error(std::string("the spool is full: ") + e.what()), false,
                   {{"Retry-After", "60"}});
  respond(http::status::internal_server_error, json_error(e.what()), false);
}

template <class Stream>
void Session<Stream>::end_upload() {
  if (upload_.id.empty()) return;
  sh_.uploads.release(upload_.key);
  upload_.id.clear();
}

template <class Stream>
void Session<Stream>::upload_status(const std::string& id) {
  if (!Uploads::valid_id(id))
    return respond(http::status::bad_request,
                   json_error("an upload's id is the sha256 of its file: 64 lower-case hex digits"),
                   keep_alive_);
  respond(http::status::ok, offset_json(id, sh_.uploads.received(Uploads::key(tenant_, id))),
          keep_alive_);
}

template void Session<PlainStream>::start_file_body();
template void Session<TlsStream>::start_file_body();
template void Session<PlainStream>::upload_status(const std::string&);
template void Session<TlsStream>::upload_status(const std::string&);
template void Session<PlainStream>::end_upload();
template void Session<TlsStream>::end_upload();

}  // namespace meterd::app::http_internal
