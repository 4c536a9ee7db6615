// weft-load: a virtual user's HTTP/1.1 keep-alive connection, for
// scenarios (scenario.hpp). send() connects when needed, writes a request,
// reads its response, and records the outcome on the user: the response
// with its latency (a measurement opened after connecting, see
// virtual_user::measure) or the error by kind. After an error, or a
// response that does not keep the connection alive, the connection is
// dropped and the next send() opens a new one. Every wait is bounded by
// virtual_user::deadline(): the request's timeout, and the end of the run.
#pragma once

#include <optional>
#include <string_view>

#include "http_client.hpp"
#include "scenario.hpp"
#include "url.hpp"
#include "weft/net.hpp"

namespace weft::load {

class http_connection {
 public:
  /// A connection of `vu` to target's host and port (opened by the first
  /// send()). `vu` must outlive it.
  http_connection(virtual_user& vu, url target);
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  /// Sends `request` (the bytes of one request, as build_request makes
  /// them; `head`: its method is HEAD, so no body follows the response
  /// head) and reads the response. Returns it, recorded (unless it came
  /// after the end of the run); or nullopt if the request failed (recorded
  /// as a connect, timeout, reset, closed, parse or other error) or the run
  /// ended first (nothing recorded). In the
  /// closed model a failed connect waits 10 ms before returning, so that a
  /// refusing server is not retried in a busy loop.
  std::optional<response> send(std::string_view request, bool head = false);

  /// Drops the connection (the next send() opens a new one).
  void close() noexcept { conn_.close(); }
  [[nodiscard]] const url& target() const noexcept { return target_; }

 private:
  bool connect();
  void fail(error_kind kind);

  virtual_user& vu_;
  url target_;
  net::tcp_stream conn_;
  response_reader reader_;
};

}  // namespace weft::load
