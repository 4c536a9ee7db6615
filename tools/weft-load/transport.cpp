// weft-load: transport (transport.hpp): plain reads and writes forwarded to
// the socket, TLS ones to the tls_stream over it.
#include "transport.hpp"

#include <system_error>
#include <utility>

namespace weft::load {

std::chrono::nanoseconds time_left(std::chrono::steady_clock::time_point deadline) {
  using std::chrono::nanoseconds;
  if (deadline == std::chrono::steady_clock::time_point::max()) return nanoseconds::max();
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= nanoseconds::zero()) {
    throw std::system_error(std::make_error_code(std::errc::timed_out));
  }
  return left;
}

void transport::open(net::tcp_stream socket, const tls_context* tls, std::string_view host,
                     tls_session_slot* resume) {
  tls_.reset();  // refers to the old socket
  socket_ = std::move(socket);
  if (tls != nullptr) tls_ = std::make_unique<tls_stream>(*tls, socket_, host, resume);
}

void transport::handshake(clock::time_point deadline) {
  if (tls_) tls_->handshake(deadline);
}

std::size_t transport::read_some(std::span<std::byte> buf, clock::time_point deadline) {
  if (tls_) return tls_->read_some(buf, deadline);
  return socket_.read_some(buf, time_left(deadline));
}

void transport::write_all(std::span<const std::byte> data, clock::time_point deadline) {
  if (tls_) {
    tls_->write_all(data, deadline);
  } else {
    socket_.write_all(data, time_left(deadline));
  }
}

}  // namespace weft::load
