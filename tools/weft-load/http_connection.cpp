// weft-load: http_connection (http_connection.hpp): connect (and the TLS
// handshake), write, read the response through the reader, classify what
// went wrong.
#include "http_connection.hpp"

#include <algorithm>
#include <chrono>
#include <span>
#include <utility>

#include "weft/this_fiber.hpp"

namespace weft::load {

namespace {

using steady = virtual_user::clock;

// After a failed connect a closed-model user waits this long before trying
// again, so that a refusing server costs a few hundred errors a second
// rather than a busy loop. A guess: short enough to reconnect promptly.
constexpr auto connect_backoff = std::chrono::milliseconds(10);

// The connection as the response reader's byte source, every read bounded
// by the request's deadline.
class transport_source final : public byte_source {
 public:
  transport_source(transport& t, steady::time_point deadline) : t_(t), deadline_(deadline) {}
  std::size_t read_some(std::span<char> buf) override {
    return t_.read_some(std::as_writable_bytes(buf), deadline_);
  }

 private:
  transport& t_;
  steady::time_point deadline_;
};

error_kind classify(const std::error_code& ec) {
  if (ec == std::errc::timed_out) return error_kind::timeout;
  if (ec == std::errc::connection_reset || ec == std::errc::broken_pipe ||
      ec == std::errc::connection_aborted) {
    return error_kind::reset;
  }
  return error_kind::other;
}

error_kind classify(const tls_error& e) {
  switch (e.kind()) {
    case tls_failure::handshake:
      return error_kind::tls_handshake;
    case tls_failure::verify:
      return error_kind::tls_verify;
    case tls_failure::record:
      break;
  }
  return error_kind::tls;
}

}  // namespace

http_connection::http_connection(virtual_user& vu, url target, const tls_context* tls)
    : vu_(vu),
      target_(std::move(target)),
      tls_(!target_.tls     ? nullptr
           : tls != nullptr ? tls
                            : &tls_context::default_client()) {}

void http_connection::back_off() {
  if (!vu_.open_model()) {
    this_fiber::sleep_until(std::min(steady::now() + connect_backoff, vu_.end()));
  }
}

bool http_connection::connect() {
  const auto deadline = vu_.deadline();
  const auto left = deadline - steady::now();
  net::tcp_stream socket;
  try {
    socket = net::tcp_stream::connect(target_.host, target_.port, left);
  } catch (const std::system_error&) {
    vu_.error(error_kind::connect);  // dropped if it failed after the end of the run
    back_off();
    return false;
  }
  try {
    conn_.open(std::move(socket), tls_, target_.host, &session_);
    conn_.handshake(deadline);
  } catch (const tls_error& e) {
    fail(classify(e));
    back_off();
    return false;
  } catch (const std::system_error& e) {
    fail(classify(e.code()));
    return false;
  }
  reader_.reset();
  vu_.connected();
  return true;
}

void http_connection::fail(error_kind kind) {
  conn_.close();
  vu_.error(kind);
}

std::optional<response> http_connection::send(std::string_view request, bool head) {
  if (!conn_.is_open() && !connect()) return std::nullopt;
  auto m = vu_.measure();
  const auto deadline = vu_.deadline();
  try {
    conn_.write_all(std::as_bytes(std::span(request)), deadline);
    transport_source in(conn_, deadline);
    const response r = reader_.read(in, head);
    m.done(r.status, r.bytes);
    if (!r.keep_alive) conn_.close();
    return r;
  } catch (const std::system_error& e) {
    fail(classify(e.code()));
  } catch (const tls_error& e) {
    fail(classify(e));
  } catch (const protocol_error&) {
    fail(error_kind::parse);
  } catch (const peer_closed&) {
    fail(error_kind::closed);
  }
  return std::nullopt;
}

}  // namespace weft::load
