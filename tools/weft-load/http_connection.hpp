// weft-load: a virtual user's HTTP/1.1 keep-alive connection, for
// scenarios (scenario.hpp). send() connects when needed, writes a request,
// reads its response, and records the outcome on the user: the response
// with its latency (a measurement opened after connecting, see
// virtual_user::measure) or the error by kind. After an error, or a
// response that does not keep the connection alive, the connection is
// dropped and the next send() opens a new one. Every wait is bounded by
// virtual_user::deadline(), the request's timeout; the end of the run
// cancels the user's fiber, so a wait then throws weft::cancelled out of
// send() (the run counts the request as cancelled, scenario.hpp).
//
// An https URL is spoken over TLS (tls.hpp): the handshake is part of
// connecting (a failed one is counted as a tls-handshake or tls-verify
// error, and a closed-model user then waits as after a failed connect),
// and the connection keeps its last TLS session to resume it when it
// reconnects.
#pragma once

#include <optional>
#include <string_view>
#include <system_error>

#include "http_client.hpp"
#include "scenario.hpp"
#include "tls.hpp"
#include "transport.hpp"
#include "url.hpp"

namespace weft::load {

class http_connection {
 public:
  /// A connection of `vu` to target's host and port (opened by the first
  /// send()). `vu` must outlive it. An https target uses `tls` (which must
  /// outlive it too), or tls_context::default_client() when null.
  http_connection(virtual_user& vu, url target, const tls_context* tls = nullptr);
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  /// Sends `request` (the bytes of one request, as build_request makes
  /// them; `head`: its method is HEAD, so no body follows the response
  /// head) and reads the response. Returns it, recorded (unless it came
  /// after the end of the run); or nullopt if the request failed (recorded
  /// as a connect, tls-handshake, tls-verify, tls, timeout, reset, closed,
  /// parse or other error, unless after the end of the run). Throws
  /// weft::cancelled when the user is cancelled meanwhile. In
  /// the closed model a failed connect or TLS handshake waits 10 ms before
  /// returning, so that a refusing server is not retried in a busy loop.
  std::optional<response> send(std::string_view request, bool head = false);

  /// Drops the connection (the next send() opens a new one).
  void close() noexcept { conn_.close(); }
  [[nodiscard]] const url& target() const noexcept { return target_; }

 private:
  bool connect();
  /// Drops the connection and records an error of `kind`.
  void fail(error_kind kind);
  /// The closed model's pause after a failed connect or handshake.
  void back_off();

  virtual_user& vu_;
  url target_;
  const tls_context* tls_;    ///< null for http
  tls_session_slot session_;  ///< outlives conn_'s TLS stream, which refers to it
  transport conn_;
  response_reader reader_;
};

}  // namespace weft::load
