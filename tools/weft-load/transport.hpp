// weft-load: a connection's byte stream, plain TCP or TLS over it
// (tls.hpp): what http_connection and the built-in server read and write
// through, so that neither cares which. Every read and write takes a
// deadline (time_point::max(): none).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include "tls.hpp"
#include "weft/net.hpp"

namespace weft::load {

/// Time left until `deadline`: nanoseconds::max() (no limit) for
/// time_point::max(); throws std::system_error (std::errc::timed_out) once
/// it has passed.
std::chrono::nanoseconds time_left(std::chrono::steady_clock::time_point deadline);

/// One connection, plain or TLS. Neither copyable nor movable (the TLS
/// stream refers to the socket). Used by one fiber at a time, except
/// close().
class transport {
 public:
  using clock = std::chrono::steady_clock;

  /// Not connected.
  transport() = default;
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// Takes the connected `socket` (replacing any earlier connection); with
  /// `tls` (null: plain TCP), TLS over it on that context's side, `host`
  /// and `resume` as for tls_stream. The handshake is handshake()'s.
  void open(net::tcp_stream socket, const tls_context* tls, std::string_view host = {},
            tls_session_slot* resume = nullptr);
  /// The TLS handshake (nothing for plain TCP); throws as tls_stream's.
  void handshake(clock::time_point deadline);
  /// Reads at least one byte; 0 once the peer has closed. Throws
  /// std::system_error (std::errc::timed_out past the deadline) or
  /// tls_error.
  std::size_t read_some(std::span<std::byte> buf, clock::time_point deadline);
  /// Writes every byte of `data`; throws as read_some.
  void write_all(std::span<const std::byte> data, clock::time_point deadline);
  /// Closes the socket (no-op if closed); a fiber waiting on it throws
  /// std::errc::operation_canceled. Any fiber or thread.
  void close() noexcept { socket_.close(); }
  /// Whether a connection is open (open() and no close() since).
  [[nodiscard]] bool is_open() const noexcept { return socket_.native_handle() >= 0; }
  /// Whether the TLS handshake resumed an earlier session (false for TCP).
  [[nodiscard]] bool resumed() const noexcept { return tls_ && tls_->resumed(); }

 private:
  net::tcp_stream socket_;
  std::unique_ptr<tls_stream> tls_;  ///< over socket_; null for plain TCP
};

}  // namespace weft::load
