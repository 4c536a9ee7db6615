// weft-load: http_connection (http_connection.hpp): connect, write, read
// the response through the reader, classify what went wrong.
#include "http_connection.hpp"

#include <algorithm>
#include <chrono>
#include <span>
#include <system_error>
#include <utility>

#include "weft/this_fiber.hpp"

namespace weft::load {

namespace {

using steady = virtual_user::clock;
using std::chrono::nanoseconds;

// After a failed connect a closed-model user waits this long before trying
// again, so that a refusing server costs a few hundred errors a second
// rather than a busy loop. A guess: short enough to reconnect promptly.
constexpr auto connect_backoff = std::chrono::milliseconds(10);

nanoseconds remaining(steady::time_point deadline) {
  const auto left = deadline - steady::now();
  if (left <= nanoseconds::zero())
    throw std::system_error(std::make_error_code(std::errc::timed_out));
  return left;
}

// The connection as the response reader's byte source, every read bounded
// by the request's deadline.
class stream_source final : public byte_source {
 public:
  stream_source(net::tcp_stream& s, steady::time_point deadline) : s_(s), deadline_(deadline) {}
  std::size_t read_some(std::span<char> buf) override {
    return s_.read_some(std::as_writable_bytes(buf), remaining(deadline_));
  }

 private:
  net::tcp_stream& s_;
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

}  // namespace

http_connection::http_connection(virtual_user& vu, url target)
    : vu_(vu), target_(std::move(target)) {}

bool http_connection::connect() {
  const auto deadline = vu_.deadline();
  const auto left = deadline - steady::now();
  if (left <= nanoseconds::zero()) return false;  // the run is over
  try {
    conn_ = net::tcp_stream::connect(target_.host, target_.port, left);
  } catch (const std::system_error&) {
    vu_.error(error_kind::connect);  // dropped if the end of the run cut it short
    if (!vu_.open_model()) {
      this_fiber::sleep_until(std::min(steady::now() + connect_backoff, vu_.end()));
    }
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
  if (conn_.native_handle() < 0 && !connect()) return std::nullopt;
  auto m = vu_.measure();
  const auto deadline = vu_.deadline();
  try {
    conn_.write_all(std::as_bytes(std::span(request)), remaining(deadline));
    stream_source in(conn_, deadline);
    const response r = reader_.read(in, head);
    m.done(r.status, r.bytes);
    if (!r.keep_alive) conn_.close();
    return r;
  } catch (const std::system_error& e) {
    if (e.code() == std::errc::timed_out && deadline >= vu_.end()) {
      conn_.close();  // cut by the end of the run: in flight, dropped
    } else {
      fail(classify(e.code()));
    }
  } catch (const protocol_error&) {
    fail(error_kind::parse);
  } catch (const peer_closed&) {
    fail(error_kind::closed);
  }
  return std::nullopt;
}

}  // namespace weft::load
