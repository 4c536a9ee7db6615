// weft::net: TCP sockets over the poller (poller.hpp).
//
// Every operation is the non-blocking system call in a loop: try it; on
// EAGAIN wait for readiness (wait_io: a fiber parks on the poller, a plain
// thread blocks in ppoll) and try again; on EINTR try again. The calls on a
// stream or listener run between acquire_fd and release_fd (the `fd_call`
// guard), which keep the descriptor open while they use it even if close()
// runs meanwhile on another fiber or thread (poller.hpp, "Closing a socket
// while others use it"). A call that fails after such a close reports
// std::errc::operation_canceled rather than whatever the half-closed socket
// said (EINVAL from accept, 0 from recv).
//
// Names: numeric IPv4 and IPv6 addresses (an IPv6 one may be in brackets) are
// parsed directly; anything else goes to getaddrinfo on the blocking pool
// (weft::blocking: a fiber parks meanwhile, a plain thread calls it itself).
#include "weft/net.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "io/poller.hpp"
#include "platform/system_error.hpp"
#include "scheduler/timers.hpp"
#include "sync/waiting.hpp"
#include "weft/blocking.hpp"

namespace weft::net {

namespace {

using weft::detail::io_interest;
using weft::detail::io_result;
using weft::detail::throw_errno;

/// getaddrinfo's own error codes (EAI_*), named as gai_strerror names them.
class resolver_category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "getaddrinfo"; }
  [[nodiscard]] std::string message(int code) const override { return ::gai_strerror(code); }
};

const std::error_category& resolver_errors() {
  static const resolver_category instance;
  return instance;
}

struct endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

/// The addresses of `host` at `port`, in getaddrinfo's order.
std::vector<endpoint> resolve(std::string_view host, std::uint16_t port) {
  std::string name(host);
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  endpoint ep;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
  if (::inet_pton(AF_INET, name.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    ep.len = sizeof(sockaddr_in);
    return {ep};
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
  if (::inet_pton(AF_INET6, name.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    ep.len = sizeof(sockaddr_in6);
    return {ep};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  // errno is per thread: read it on the thread that called getaddrinfo.
  const auto [rc, err] = weft::blocking([&] {
    const int r = ::getaddrinfo(name.c_str(), nullptr, &hints, &found);
    return std::pair<int, int>(r, errno);
  });
  if (rc == EAI_SYSTEM) throw_errno(err, "weft::net: getaddrinfo");
  if (rc != 0) throw std::system_error(rc, resolver_errors(), "weft::net: getaddrinfo");
  std::vector<endpoint> out;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        ai->ai_addrlen > sizeof(sockaddr_storage)) {
      continue;
    }
    endpoint one;
    std::memcpy(&one.addr, ai->ai_addr, ai->ai_addrlen);
    one.len = ai->ai_addrlen;
    if (ai->ai_family == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&one.addr)->sin_port = htons(port);
    } else {
      reinterpret_cast<sockaddr_in6*>(&one.addr)->sin6_port = htons(port);
    }
    out.push_back(one);
  }
  ::freeaddrinfo(found);
  if (out.empty()) throw std::system_error(EAI_NONAME, resolver_errors(), "weft::net: getaddrinfo");
  return out;
}

int open_socket(const endpoint& ep) {
  const int fd = ::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(errno, "weft::net: socket");
  return fd;
}

// Best effort: a stream without it still works, only with Nagle's delays.
void set_nodelay(int fd) noexcept {
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/// One call on a stream or listener: keeps the descriptor open until the
/// call returns (acquire_fd/release_fd), waits, and turns failures into
/// exceptions.
class fd_call {
 public:
  fd_call(const std::atomic<int>& handle, const char* what)
      : handle_(handle), what_(what), fd_(weft::detail::acquire_fd(handle)) {
    if (fd_ < 0) throw_errno(EBADF, what_);
  }
  ~fd_call() { weft::detail::release_fd(fd_); }
  fd_call(const fd_call&) = delete;
  fd_call& operator=(const fd_call&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_; }

  /// True if close() ran since the call began.
  [[nodiscard]] bool closed_meanwhile() const noexcept {
    return handle_.load(std::memory_order_relaxed) != fd_;
  }

  /// Waits for readiness; throws on timeout or close.
  void wait(io_interest what, std::int64_t deadline_ns) const {
    switch (weft::detail::wait_io(fd_, what, deadline_ns)) {
      case io_result::ready:
        return;
      case io_result::timed_out:
        throw_errno(ETIMEDOUT, what_);
      case io_result::canceled:
        throw_errno(ECANCELED, what_);
    }
  }

  /// Throws `err`, or operation_canceled if close() ran meanwhile.
  [[noreturn]] void fail(int err) const {
    throw_errno(closed_meanwhile() ? ECANCELED : err, what_);
  }

 private:
  const std::atomic<int>& handle_;
  const char* what_;
  int fd_;
};

bool would_block(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK; }

}  // namespace

// ---- tcp_stream

tcp_stream tcp_stream::connect_until(std::string_view host, std::uint16_t port,
                                     weft::detail::steady_time deadline) {
  static constexpr const char* what = "weft::net::tcp_stream::connect";
  const std::int64_t deadline_ns = weft::detail::to_deadline(deadline);
  int last_error = EADDRNOTAVAIL;  // replaced: resolve() returns at least one address
  for (const endpoint& ep : resolve(host, port)) {
    const int fd = open_socket(ep);
    set_nodelay(fd);
    int err = 0;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) != 0) {
      err = errno;
      if (err == EINPROGRESS || err == EINTR) {  // EINTR: it goes on in the background
        io_result waited = io_result::ready;
        try {
          waited = weft::detail::wait_io(fd, io_interest::write, deadline_ns);
        } catch (...) {
          weft::detail::discard_fd(fd);
          throw;
        }
        if (waited == io_result::timed_out) {
          weft::detail::discard_fd(fd);
          throw_errno(ETIMEDOUT, what);
        }
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err == 0) return tcp_stream(fd);
    weft::detail::discard_fd(fd);
    last_error = err;
  }
  throw_errno(last_error, what);
}

std::size_t tcp_stream::read_some_until(std::span<std::byte> buf,
                                        weft::detail::steady_time deadline) {
  fd_call call(fd_, "weft::net::tcp_stream::read_some");
  if (buf.empty()) return 0;
  const std::int64_t deadline_ns = weft::detail::to_deadline(deadline);
  for (;;) {
    const ssize_t n = ::recv(call.fd(), buf.data(), buf.size(), 0);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) {
      if (call.closed_meanwhile()) call.fail(ECANCELED);  // our own shutdown, not the peer's
      return 0;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (!would_block(err)) call.fail(err);
    call.wait(io_interest::read, deadline_ns);
  }
}

void tcp_stream::write_all_until(std::span<const std::byte> data,
                                 weft::detail::steady_time deadline) {
  fd_call call(fd_, "weft::net::tcp_stream::write_all");
  const std::int64_t deadline_ns = weft::detail::to_deadline(deadline);
  while (!data.empty()) {
    // MSG_NOSIGNAL: a closed peer is EPIPE, not SIGPIPE.
    const ssize_t n = ::send(call.fd(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data = data.subspan(static_cast<std::size_t>(n));
      continue;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (!would_block(err)) call.fail(err);
    call.wait(io_interest::write, deadline_ns);
  }
}

void tcp_stream::shutdown_write() {
  fd_call call(fd_, "weft::net::tcp_stream::shutdown_write");
  if (::shutdown(call.fd(), SHUT_WR) != 0) call.fail(errno);
}

void tcp_stream::close() noexcept { weft::detail::close_fd(fd_); }

// ---- tcp_listener

tcp_listener tcp_listener::bind(std::string_view host, std::uint16_t port) {
  int last_error = EADDRNOTAVAIL;  // replaced: resolve() returns at least one address
  for (const endpoint& ep : resolve(host, port)) {
    const int fd = open_socket(ep);
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
        ::bind(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) == 0 &&
        ::listen(fd, SOMAXCONN) == 0) {
      return tcp_listener(fd);
    }
    last_error = errno;
    weft::detail::discard_fd(fd);
  }
  throw_errno(last_error, "weft::net::tcp_listener::bind");
}

tcp_stream tcp_listener::accept() {
  fd_call call(fd_, "weft::net::tcp_listener::accept");
  for (;;) {
    const int fd = ::accept4(call.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      set_nodelay(fd);
      return tcp_stream(fd);
    }
    const int err = errno;
    switch (err) {
      case EINTR:
        continue;
      // The connection failed while queued (accept(2) says to retry these
      // for TCP): take the next one.
      case ECONNABORTED:
      case ENETDOWN:
      case EPROTO:
      case ENOPROTOOPT:
      case EHOSTDOWN:
      case ENONET:
      case EHOSTUNREACH:
      case EOPNOTSUPP:
      case ENETUNREACH:
        continue;
      default:
        if (!would_block(err)) call.fail(err);
        call.wait(io_interest::read, weft::detail::no_deadline);
    }
  }
}

std::uint16_t tcp_listener::local_port() const {
  fd_call call(fd_, "weft::net::tcp_listener::local_port");
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(call.fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) call.fail(errno);
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
}

void tcp_listener::close() noexcept { weft::detail::close_fd(fd_); }

// ---- readiness

bool detail::wait_fd(int fd, readiness what, weft::detail::steady_time deadline) {
  const io_interest interest = what == readiness::writable ? io_interest::write : io_interest::read;
  // Ready already? Then say so without a trip through the poller, whose
  // answer could come after a short timeout on a busy machine. (The socket
  // calls above skip this: they wait only after EAGAIN.)
  pollfd now{};
  now.fd = fd;
  now.events = what == readiness::writable ? POLLOUT : POLLIN;
  if (fd >= 0 && ::poll(&now, 1, 0) == 1 && (now.revents & POLLNVAL) == 0) return true;
  switch (weft::detail::wait_io(fd, interest, weft::detail::to_deadline(deadline))) {
    case io_result::ready:
      return true;
    case io_result::timed_out:
      return false;
    case io_result::canceled:
      break;
  }
  throw_errno(ECANCELED, "weft::net::wait_readable/wait_writable");
}

}  // namespace weft::net
