#include "load.hpp"

#include <algorithm>
#include <exception>
#include <span>
#include <system_error>
#include <vector>

#include "http_client.hpp"
#include "recorder.hpp"
#include "weft/channel.hpp"
#include "weft/latch.hpp"
#include "weft/net.hpp"
#include "weft/this_fiber.hpp"

namespace weft::load {

namespace {

using steady = std::chrono::steady_clock;
using std::chrono::nanoseconds;

// After a failed connect a closed-model user waits this long before trying
// again, so that a refusing server costs a few hundred errors a second
// rather than a busy loop. A guess: short enough to reconnect promptly.
constexpr auto connect_backoff = std::chrono::milliseconds(10);

[[noreturn]] void throw_timed_out() {
  throw std::system_error(std::make_error_code(std::errc::timed_out));
}

nanoseconds remaining(steady::time_point deadline) {
  const auto left = deadline - steady::now();
  if (left <= nanoseconds::zero()) throw_timed_out();
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

struct run_window {
  steady::time_point start;
  steady::time_point end;
};

// The start line every user waits at: the window opens only once every
// user's fiber runs, so that the time spawning ten thousand fibers takes is
// not counted (a user starting late in the open model would otherwise
// record its whole delay as latency).
struct start_line {
  explicit start_line(unsigned users) : ready(users) {}
  weft::latch ready;    ///< each user counts down once it runs
  weft::latch go{1};    ///< opened by run_load once `window` is set
  run_window window{};  ///< written before go opens, read after
};

void virtual_user(const load_plan& plan, recorder& rec, start_line& line, unsigned index) {
  line.ready.count_down();
  line.go.wait();
  const run_window w = line.window;
  const bool open = plan.rate > 0;
  // Open model: this user's share of the schedule (see load.hpp).
  const auto interval = std::chrono::duration_cast<nanoseconds>(
      std::chrono::duration<double>(open ? plan.connections / plan.rate : 0.0));
  steady::time_point next =
      w.start + std::chrono::duration_cast<nanoseconds>(
                    std::chrono::duration<double>(open ? index / plan.rate : 0.0));
  const auto request = std::as_bytes(std::span(plan.request));
  net::tcp_stream conn;
  response_reader reader;

  for (;;) {
    steady::time_point intended{};
    if (open) {
      intended = next;
      next += interval;
      if (intended >= w.end) return;
      this_fiber::sleep_until(intended);  // returns at once when late
    }
    if (conn.native_handle() < 0) {
      const auto now = steady::now();
      if (now >= w.end) return;
      try {
        conn = net::tcp_stream::connect(plan.target.host, plan.target.port,
                                        std::min<nanoseconds>(plan.timeout, w.end - now));
        reader.reset();
        rec.connected();
      } catch (const std::system_error&) {
        if (steady::now() >= w.end) return;  // cut short by the end of the run
        rec.error(error_kind::connect);
        if (!open) this_fiber::sleep_until(std::min(steady::now() + connect_backoff, w.end));
        continue;
      }
    }
    const auto sent = steady::now();
    if (!open) intended = sent;
    if (sent >= w.end) return;
    const bool cut_by_end = w.end < sent + plan.timeout;
    const auto deadline = cut_by_end ? w.end : sent + plan.timeout;
    try {
      conn.write_all(request, remaining(deadline));
      stream_source in(conn, deadline);
      const response r = reader.read(in, plan.head);
      const auto latency = std::chrono::duration_cast<nanoseconds>(steady::now() - intended);
      rec.response(static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0)), r.status,
                   r.bytes);
      if (!r.keep_alive) conn.close();
    } catch (const std::system_error& e) {
      conn.close();
      if (e.code() == std::errc::timed_out && cut_by_end) return;  // in flight at the end
      rec.error(classify(e.code()));
    } catch (const protocol_error&) {
      conn.close();
      rec.error(error_kind::parse);
    } catch (const peer_closed&) {
      conn.close();
      rec.error(error_kind::closed);
    }
  }
}

}  // namespace

report run_load(weft::runtime& rt, const load_plan& plan, const progress_fn& progress) {
  recorder rec(rt.workers() + 1);
  start_line line(plan.connections);
  std::vector<weft::join_handle<void>> users;
  users.reserve(plan.connections);
  try {
    for (unsigned i = 0; i < plan.connections; ++i) {
      users.push_back(rt.spawn([&plan, &rec, &line, i] { virtual_user(plan, rec, line, i); }));
    }
  } catch (...) {  // out of memory or stacks: release the users spawned, with an empty window
    line.ready.count_down(static_cast<std::ptrdiff_t>(plan.connections - users.size()));
    line.ready.wait();
    line.window = {steady::now(), steady::now()};
    line.go.count_down();
    for (auto& u : users) u.join();
    throw;
  }
  line.ready.wait();
  const auto start = steady::now();
  line.window = {start, start + plan.duration};
  line.go.count_down();  // publishes `window` (the latch orders it before each wait's return)
  const run_window& w = line.window;

  // A fiber joins the users and then closes `done`; meanwhile this thread
  // wakes once a second for the progress line.
  weft::channel<int> done;
  auto joiner = rt.spawn([&users, done]() mutable {
    std::exception_ptr first;
    for (auto& u : users) {
      try {
        u.join();
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    done.close();
    if (first) std::rethrow_exception(first);
  });
  int unused = 0;
  while (done.recv_for(unused, std::chrono::seconds(1)) == weft::channel_status::timeout) {
    if (progress) {
      report so_far;
      rec.snapshot(so_far);
      progress(so_far, std::chrono::duration<double>(steady::now() - w.start).count());
    }
  }
  joiner.join();  // rethrows a user's unexpected exception

  report r;
  r.target = plan.target.str();
  r.model = plan.rate > 0 ? "open" : "closed";
  r.connections = plan.connections;
  r.rate = plan.rate;
  r.workers = rt.workers();
  r.duration_s = std::chrono::duration<double>(plan.duration).count();
  rec.snapshot(r);
  r.rps = r.duration_s > 0 ? static_cast<double>(r.requests) / r.duration_s : 0.0;
  return r;
}

}  // namespace weft::load
