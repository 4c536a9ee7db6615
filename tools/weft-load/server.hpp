// weft-load: the built-in HTTP server, loaded when no URL is given (and run
// alone by `weft-load serve`). A fiber accepts; each connection gets its
// own fiber that reads requests and answers every one with the same small
// 200 response, keeping the connection open (HTTP/1.1 keep-alive, pipelining
// allowed). It exists so that the harness works with nothing else
// installed, not to be a web server: it ignores the method and path. Given
// a server tls_context (`serve --tls-cert/--tls-key`) it speaks HTTPS: each
// connection's fiber runs the TLS handshake first (a client that fails it,
// or says nothing for 10 s, is dropped).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "tls.hpp"
#include "weft/mutex.hpp"
#include "weft/net.hpp"
#include "weft/runtime.hpp"
#include "weft/wait_group.hpp"

namespace weft::load {

class http_server {
 public:
  /// The response body every request gets.
  static constexpr std::string_view body = "Hello, world\n";

  /// Listens on host:port (port 0: any free port) and starts accepting on
  /// `rt`; over TLS with `tls` (a server context that must outlive the
  /// server; null: plain HTTP). Throws std::system_error if the address
  /// cannot be bound.
  http_server(weft::runtime& rt, std::string_view host, std::uint16_t port,
              const tls_context* tls = nullptr);
  /// stop().
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// Requests answered so far.
  [[nodiscard]] std::uint64_t requests() const noexcept {
    return requests_.load(std::memory_order_relaxed);
  }

  /// Stops accepting, closes every open connection and waits until each
  /// fiber of the server has finished. Idempotent. Any thread or fiber
  /// except the server's own.
  void stop();

 private:
  struct connection;
  void accept_loop();
  void serve(connection& c);
  /// Adds `c` to the open connections; false (and closes it) once stopping.
  bool enter(connection& c);
  void leave(connection& c);

  net::tcp_listener listener_;
  std::uint16_t port_ = 0;
  const tls_context* tls_;
  weft::wait_group fibers_;     ///< the acceptor and every connection fiber
  weft::mutex lock_;            ///< guards open_ and stopping_
  connection* open_ = nullptr;  ///< intrusive list of open connections
  bool stopping_ = false;
  std::atomic<bool> stopped_{false};
  std::atomic<std::uint64_t> requests_{0};
};

}  // namespace weft::load
