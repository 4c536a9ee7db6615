// weft-load: TLS (OpenSSL, Debian's libssl-dev) over a weft::net socket,
// client and server side, without ever blocking a worker thread.
//
// OpenSSL never touches the socket: each SSL object talks to one half of a
// BIO pair (an in-memory pipe), and tls_stream moves the bytes between the
// other half and the weft::net::tcp_stream itself. When an SSL_* call says
// SSL_ERROR_WANT_READ, the records it produced are written out and the
// socket is read, both through tcp_stream, which parks the fiber (never
// the worker) until the socket is ready; SSL_ERROR_WANT_WRITE (the pair's
// buffer is full) just writes them out. The BIO pair rather than SSL_set_fd
// with wait_readable/wait_writable, because tcp_stream already bounds every
// wait by a deadline and may be closed from another thread while a fiber
// waits on it (the built-in server's stop() does that), which a bare
// wait_readable on the descriptor does not allow. Reads and writes go
// straight into and out of the pair's buffers (BIO_nwrite0/BIO_nread0): no
// extra copy.
//
// The error queue: OpenSSL's is thread-local, several fibers share a worker
// thread, and a fiber may resume on another worker after it parked. So
// every SSL_* call that can fail (making a context or a connection, loading
// files, the handshake, each read and write) is preceded by
// ERR_clear_error(), and whatever it left in the queue is read into a
// message right after the call, before anything that may park: no error
// state crosses a wait.
//
// Session resumption: a client connection may be given a tls_session_slot
// (one per virtual user); the session the server hands out (with TLS 1.3,
// in a ticket after the handshake) is kept there and offered by the next
// connection, which then skips the certificate exchange.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "weft/net.hpp"

// OpenSSL's types, as <openssl/types.h> declares them (kept out of this
// header so that its users do not include OpenSSL).
struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;
struct bio_st;

namespace weft::load {

/// Which step of TLS failed (the report counts each as an error kind).
enum class tls_failure : std::uint8_t {
  handshake,  ///< the handshake failed: no common protocol, an alert, the peer closed
  verify,     ///< the server's certificate was not trusted (or expired, or for another name)
  record,     ///< after the handshake: a record that does not decrypt, an alert
};

/// A TLS failure, with OpenSSL's reason ("certificate has expired", ...).
class tls_error : public std::runtime_error {
 public:
  tls_error(tls_failure kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  [[nodiscard]] tls_failure kind() const noexcept { return kind_; }

 private:
  tls_failure kind_;
};

/// How a client checks servers (-k/--insecure, --cacert).
struct tls_client_options {
  bool verify = true;   ///< false: accept any certificate (-k)
  std::string ca_file;  ///< PEM bundle to trust; empty: the system's store
};

/// The settings shared by every connection of one side (an SSL_CTX): safe
/// to use from any number of fibers and threads at once once made.
class tls_context {
 public:
  /// A client context: TLS 1.2 or later, the server's certificate verified
  /// against options.ca_file or the system's trust store (unless
  /// options.verify is false), sessions handed to the connections' slots.
  /// Throws std::invalid_argument naming a CA file that cannot be read or
  /// holds no certificate.
  static tls_context client(const tls_client_options& options);
  /// A server context with the certificate chain and private key of these
  /// PEM files. Throws std::invalid_argument naming the file that cannot be
  /// read, and why, or saying that the key does not match.
  static tls_context server(const std::string& cert_file, const std::string& key_file);
  /// The default client context (verification on, the system's store),
  /// made on first use: for https URLs given to http_connection without one.
  static const tls_context& default_client();

  [[nodiscard]] bool is_server() const noexcept { return server_; }

 private:
  friend class tls_stream;
  struct deleter {
    void operator()(ssl_ctx_st* ctx) const noexcept;
  };
  tls_context(ssl_ctx_st* ctx, bool server) : ctx_(ctx), server_(server) {}
  /// OpenSSL's new-session callback: keeps the session in the connection's
  /// tls_session_slot, if it has one.
  static int keep_session(ssl_st* ssl, ssl_session_st* session);

  std::unique_ptr<ssl_ctx_st, deleter> ctx_;
  bool server_;
};

/// A client's last session with a server, offered by its next connection
/// to resume it. One per virtual user: used by one fiber at a time.
class tls_session_slot {
 public:
  /// True once a session is kept.
  [[nodiscard]] bool has_session() const noexcept { return session_ != nullptr; }

 private:
  friend class tls_stream;
  friend class tls_context;
  struct deleter {
    void operator()(ssl_session_st* s) const noexcept;
  };
  std::unique_ptr<ssl_session_st, deleter> session_;
};

/// One TLS connection over a connected tcp_stream. Used by one fiber at a
/// time (it may move between workers); the socket may be closed from
/// anywhere meanwhile (the waiting call then throws, as tcp_stream's do).
/// Every call takes a deadline (time_point::max(): none) and throws
/// std::system_error with std::errc::timed_out once it passes, any other
/// socket error as tcp_stream does, or tls_error.
class tls_stream {
 public:
  using clock = std::chrono::steady_clock;

  /// TLS over `socket` (connected; it must outlive this stream) with the
  /// settings of `ctx`. A client context needs `host`: sent as SNI (for a
  /// name) and checked against the certificate (a name or an IP address);
  /// `resume` (may be null; must outlive the stream) keeps the session for
  /// the next connection and offers the one it holds.
  tls_stream(const tls_context& ctx, net::tcp_stream& socket, std::string_view host = {},
             tls_session_slot* resume = nullptr);
  ~tls_stream();
  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;

  /// Runs the handshake. A peer that closes meanwhile is a tls_error
  /// (handshake), a certificate that does not verify a tls_error (verify).
  void handshake(clock::time_point deadline);
  /// Reads at least one byte of application data; 0 once the peer has
  /// closed (with or without close_notify).
  std::size_t read_some(std::span<std::byte> buf, clock::time_point deadline);
  /// Writes every byte of `data`.
  void write_all(std::span<const std::byte> data, clock::time_point deadline);
  /// Whether the handshake resumed an earlier session.
  [[nodiscard]] bool resumed() const noexcept;

 private:
  /// Calls `op` (an SSL_* call) until it succeeds, feeding it from the
  /// socket; returns its result, or 0 if the peer closed first.
  template <class Op>
  int drive(Op op, clock::time_point deadline, tls_failure failure);
  /// Writes out what OpenSSL produced.
  void flush(clock::time_point deadline);
  /// Reads from the socket into the pair; false at end of stream.
  bool fill(clock::time_point deadline);

  struct ssl_deleter {
    void operator()(ssl_st* ssl) const noexcept;
  };
  struct bio_deleter {
    void operator()(bio_st* bio) const noexcept;
  };
  net::tcp_stream& socket_;
  std::unique_ptr<ssl_st, ssl_deleter> ssl_;
  std::unique_ptr<bio_st, bio_deleter> network_;  ///< our half of the pair (OpenSSL owns the other)
};

}  // namespace weft::load
