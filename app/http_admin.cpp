// POST /v1/admin/reload (admin role): re-reads the configuration as SIGHUP does; 200 when it
// was applied, 422 with the reason when it was refused (the old configuration stays in force).
// The reload reads files and fsyncs the audit trail, so it runs on the blocking pool.
#include "app/http_session.hpp"
#include "protocol/reading_format.hpp"

namespace meterd::app::http_internal {

template <class Stream>
void Session<Stream>::reload() {
  if (!sh_.reload)
    return respond(http::status::not_found, json_error("no reload here"), keep_alive_);
  net::post(sh_.blocking, [self = this->shared_from_this(), token = sh_.auth.token_id(token_)] {
    std::string error;
    try {
      error = self->sh_.reload(token);
    } catch (const std::exception& e) {
      error = e.what();
    }
    net::post(self->stream_.get_executor(), [self, error] {
      if (!error.empty())
        return self->respond(http::status::unprocessable_entity, json_error(error),
                             self->keep_alive_);
      self->respond(http::status::ok, "{\"status\":\"reloaded\"}\n", self->keep_alive_);
    });
  });
}

template void Session<PlainStream>::reload();
template void Session<TlsStream>::reload();

}  // namespace meterd::app::http_internal
