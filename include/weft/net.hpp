// weft::net: fiber-aware TCP sockets and readiness waits.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "weft/detail/deadline.hpp"

namespace weft::net {

namespace detail {
/// What wait_readable / wait_writable wait for.
enum class readiness : std::uint8_t { readable, writable };
/// Compiled core of wait_readable / wait_writable (runtime/io/net.cpp).
bool wait_fd(int fd, readiness what, weft::detail::steady_time deadline);
}  // namespace detail

class tcp_listener;

/// A connected TCP stream (IPv4 or IPv6), non-blocking underneath, with
/// TCP_NODELAY set. Move-only; the destructor closes it.
///
/// Every wait parks the calling fiber on the runtime's poller, so its worker
/// runs other fibers meanwhile; on a plain thread it blocks the thread.
/// Errors are std::system_error carrying the OS error code (compare with
/// std::errc: connection_refused, connection_reset, broken_pipe, ...); an
/// expired timeout is std::errc::timed_out. Operations on a closed or
/// moved-from stream throw std::errc::bad_file_descriptor.
///
/// One fiber may read while another writes. close() may be called from any
/// fiber or thread while others are in read_some or write_all: those throw
/// std::errc::operation_canceled.
class tcp_stream {
 public:
  /// A stream that is not connected (as after a move).
  tcp_stream() noexcept = default;
  tcp_stream(tcp_stream&& other) noexcept : fd_(other.fd_.exchange(-1)) {}
  tcp_stream& operator=(tcp_stream&& other) noexcept {
    if (this != &other) {
      close();
      fd_.store(other.fd_.exchange(-1));
    }
    return *this;
  }
  tcp_stream(const tcp_stream&) = delete;
  tcp_stream& operator=(const tcp_stream&) = delete;
  ~tcp_stream() { close(); }

  /// Connects to `host` (a numeric IPv4 or IPv6 address, or a name resolved
  /// with getaddrinfo on the blocking pool) at `port`, trying each address
  /// in turn; throws the last address's error if none accepts.
  static tcp_stream connect(std::string_view host, std::uint16_t port) {
    return connect_until(host, port, weft::detail::steady_time::max());
  }
  /// As connect(host, port), giving up with std::errc::timed_out once
  /// `timeout` has passed (name resolution itself is not interrupted).
  template <class Rep, class Period>
  static tcp_stream connect(std::string_view host, std::uint16_t port,
                            const std::chrono::duration<Rep, Period>& timeout) {
    return connect_until(host, port, weft::detail::deadline_after(timeout));
  }

  /// Reads what is available, waiting until at least one byte is; returns
  /// the count, or 0 once the peer has closed its side (an empty `buf`
  /// returns 0 at once).
  std::size_t read_some(std::span<std::byte> buf) {
    return read_some_until(buf, weft::detail::steady_time::max());
  }
  /// As read_some(buf), throwing std::errc::timed_out if no byte arrives
  /// within `timeout`. The stream stays usable after a timeout.
  template <class Rep, class Period>
  std::size_t read_some(std::span<std::byte> buf,
                        const std::chrono::duration<Rep, Period>& timeout) {
    return read_some_until(buf, weft::detail::deadline_after(timeout));
  }

  /// Writes every byte of `data`, waiting for room as needed.
  void write_all(std::span<const std::byte> data) {
    write_all_until(data, weft::detail::steady_time::max());
  }
  /// As write_all(data), throwing std::errc::timed_out if it has not
  /// finished within `timeout`; a prefix of `data` may have been sent then.
  template <class Rep, class Period>
  void write_all(std::span<const std::byte> data,
                 const std::chrono::duration<Rep, Period>& timeout) {
    write_all_until(data, weft::detail::deadline_after(timeout));
  }

  /// Ends the sending side (the peer reads 0 once it has read everything);
  /// reading goes on.
  void shutdown_write();
  /// Closes the stream (no-op if closed). Wakes any fiber or thread blocked
  /// on it with std::errc::operation_canceled. Any thread.
  void close() noexcept;
  /// The socket descriptor, or -1 once closed or moved from. Still owned by
  /// the stream.
  [[nodiscard]] int native_handle() const noexcept { return fd_.load(std::memory_order_relaxed); }

 private:
  friend class tcp_listener;
  explicit tcp_stream(int fd) noexcept : fd_(fd) {}
  static tcp_stream connect_until(std::string_view host, std::uint16_t port,
                                  weft::detail::steady_time deadline);
  std::size_t read_some_until(std::span<std::byte> buf, weft::detail::steady_time deadline);
  void write_all_until(std::span<const std::byte> data, weft::detail::steady_time deadline);

  /// The descriptor, -1 when closed; atomic because close() may race with
  /// calls on other fibers (see runtime/io/poller.hpp).
  std::atomic<int> fd_{-1};
};

/// A listening TCP socket (non-blocking, SO_REUSEADDR, backlog SOMAXCONN).
/// Move-only; the destructor closes it.
class tcp_listener {
 public:
  /// A listener that is not bound (as after a move).
  tcp_listener() noexcept = default;
  tcp_listener(tcp_listener&& other) noexcept : fd_(other.fd_.exchange(-1)) {}
  tcp_listener& operator=(tcp_listener&& other) noexcept {
    if (this != &other) {
      close();
      fd_.store(other.fd_.exchange(-1));
    }
    return *this;
  }
  tcp_listener(const tcp_listener&) = delete;
  tcp_listener& operator=(const tcp_listener&) = delete;
  ~tcp_listener() { close(); }

  /// Listens on `host` (numeric address or name, as for tcp_stream::connect;
  /// "0.0.0.0" or "::" for every interface) at `port`; port 0 picks any free
  /// port (see local_port()).
  static tcp_listener bind(std::string_view host, std::uint16_t port);

  /// Waits for the next connection and returns it. Several fibers may
  /// accept at once. Throws std::errc::operation_canceled if close() runs
  /// meanwhile, std::errc::bad_file_descriptor once closed.
  tcp_stream accept();
  /// The port it listens on.
  [[nodiscard]] std::uint16_t local_port() const;
  /// Stops listening (no-op if closed). A fiber or thread waiting in
  /// accept() gets std::errc::operation_canceled. Any thread.
  void close() noexcept;

 private:
  explicit tcp_listener(int fd) noexcept : fd_(fd) {}

  std::atomic<int> fd_{-1};  ///< as tcp_stream::fd_
};

/// Waits until `fd` is readable (data, end of stream, an error, or a
/// pending connection for a listening socket) or `timeout` passed; false on
/// timeout. For any descriptor epoll supports, in non-blocking mode (a
/// regular file is always ready, as with poll(2)). Parks a fiber, blocks a
/// thread. A zero timeout checks without waiting; `hours::max()` waits
/// forever. The descriptor must stay open during the wait. Throws
/// std::system_error for a bad descriptor.
template <class Rep, class Period>
bool wait_readable(int fd, const std::chrono::duration<Rep, Period>& timeout) {
  return detail::wait_fd(fd, detail::readiness::readable, weft::detail::deadline_after(timeout));
}

/// As wait_readable, for room to write (or an error).
template <class Rep, class Period>
bool wait_writable(int fd, const std::chrono::duration<Rep, Period>& timeout) {
  return detail::wait_fd(fd, detail::readiness::writable, weft::detail::deadline_after(timeout));
}

}  // namespace weft::net
