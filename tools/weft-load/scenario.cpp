// weft-load: run_scenario and the virtual user's schedule (scenario.hpp):
// the start line that opens the window once every user runs, the open
// model's pacing, the measurement clock and the rule that nothing after the
// end of the window is recorded.
#include "scenario.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <vector>

#include "recorder.hpp"
#include "weft/channel.hpp"
#include "weft/join_handle.hpp"
#include "weft/latch.hpp"
#include "weft/this_fiber.hpp"

namespace weft::load {

namespace {

using steady = virtual_user::clock;
using std::chrono::nanoseconds;

void check(const scenario_options& o) {
  if (o.users == 0) throw std::invalid_argument("scenario_options.users must be at least 1");
  if (o.duration <= nanoseconds::zero()) {
    throw std::invalid_argument("scenario_options.duration must be positive");
  }
  if (!std::isfinite(o.rate) || o.rate < 0) {
    throw std::invalid_argument(
        "scenario_options.rate must be 0 (closed model) or positive and finite");
  }
  if (o.timeout <= nanoseconds::zero()) {
    throw std::invalid_argument("scenario_options.timeout must be positive");
  }
}

// t + d, or time_point::max() where that would overflow (d >= 0).
steady::time_point saturating_add(steady::time_point t, steady::duration d) {
  return t > steady::time_point::max() - d ? steady::time_point::max() : t + d;
}

// `seconds` (>= 0) as a duration, capped at `cap`: any offset of at least
// the run's duration is past its end anyway, and the cap keeps the
// conversion of a tiny rate's huge interval from overflowing.
steady::duration offset(double seconds, steady::duration cap) {
  if (seconds >= std::chrono::duration<double>(cap).count()) return cap;
  return std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

// One run: its options, its recorder and the start line every user waits
// at. The window opens only once every user's fiber runs, so that the time
// spawning ten thousand fibers takes is not counted (a user starting late in
// the open model would otherwise record its whole delay as latency).
//
// Invariants: start_ and end_ are written once, by open() on
// run_scenario's thread, before go_ opens, and read by the users only
// after go_.wait() returns (the latch orders the write before each wait's
// return); every user counts ready_ down exactly once, before waiting at
// go_, and abandon() counts down the places of the users never spawned, so
// ready_ reaches zero exactly when every spawned user waits at go_. The
// recorder is written by the users and read, meanwhile, only through its
// snapshot (see recorder.hpp).
class scenario_run {
 public:
  scenario_run(const scenario_options& options, std::size_t workers)
      : options_(options), rec_(workers + 1), ready_(options.users) {}

  // A user's fiber: waits at the start line, then calls `fn` until it
  // returns or the run is over (see scenario.hpp for a function that
  // throws).
  void user(const std::function<void(virtual_user&)>& fn, unsigned index) {
    ready_.count_down();
    go_.wait();
    virtual_user vu(options_, rec_, index, start_, end_);
    while (!vu.over()) {
      try {
        fn(vu);
        return;
      } catch (...) {
        vu.error(error_kind::other);
      }
      vu.unclaimed_start_ = steady::time_point::min();  // a fresh call times from its own start
      this_fiber::yield();  // a function that throws at once must not hold its worker
    }
  }

  // Counts down the places of users that were never spawned (spawning
  // failed), waits for the others and releases them with an empty window.
  void abandon(std::size_t spawned) {
    ready_.count_down(static_cast<std::ptrdiff_t>(options_.users - spawned));
    ready_.wait();
    open(steady::now(), nanoseconds::zero());
  }

  // Waits until every user runs, then opens the window, now.
  void start() {
    ready_.wait();
    open(steady::now(), options_.duration);
  }

  [[nodiscard]] steady::time_point started() const noexcept { return start_; }
  [[nodiscard]] const recorder& recorded() const noexcept { return rec_; }

 private:
  void open(steady::time_point start, nanoseconds duration) {
    start_ = start;
    end_ = saturating_add(start, duration);
    go_.count_down();  // publishes start_ and end_
  }

  const scenario_options& options_;
  recorder rec_;
  weft::latch ready_;  ///< each user counts down once it runs
  weft::latch go_{1};  ///< opened by open() once start_ and end_ are set
  steady::time_point start_{};
  steady::time_point end_{};
};

virtual_user::virtual_user(const scenario_options& options, recorder& rec, unsigned index,
                           steady::time_point start, steady::time_point end)
    : options_(options), rec_(rec), index_(index), end_(end), next_due_(start) {
  if (open_model()) {
    // This user's share of the schedule: due at start + index/R + k*users/R.
    interval_ = offset(options.users / options.rate, options.duration);
    next_due_ = saturating_add(start, offset(index / options.rate, options.duration));
  }
}

bool virtual_user::next_iteration() {
  if (open_model()) {
    if (next_due_ >= end_) return false;
    const auto intended = next_due_;
    next_due_ = saturating_add(next_due_, interval_);
    this_fiber::sleep_until(intended);  // returns at once when late
    unclaimed_start_ = intended;
  }
  return !over();
}

virtual_user::measurement virtual_user::measure() {
  const auto start =
      unclaimed_start_ != steady::time_point::min() ? unclaimed_start_ : steady::now();
  unclaimed_start_ = steady::time_point::min();
  return measurement(*this, start);
}

void virtual_user::measurement::done(int status, std::uint64_t bytes) {
  const auto now = steady::now();
  if (now >= vu_.end_) return;  // after the window: dropped
  const auto latency = std::chrono::duration_cast<nanoseconds>(now - start_).count();
  vu_.rec_.response(static_cast<std::uint64_t>(std::max<std::int64_t>(latency, 0)), status, bytes);
}

void virtual_user::error(error_kind kind) {
  if (!over()) rec_.error(kind);
}

void virtual_user::connected() {
  if (!over()) rec_.connected();
}

steady::time_point virtual_user::deadline() const {
  return std::min(saturating_add(steady::now(), options_.timeout), end_);
}

report run_scenario(weft::runtime& rt, const scenario_options& options,
                    const std::function<void(virtual_user&)>& user, const progress_fn& progress) {
  check(options);
  scenario_run run(options, rt.workers());
  std::vector<weft::join_handle<void>> users;
  users.reserve(options.users);
  try {
    for (unsigned i = 0; i < options.users; ++i) {
      users.push_back(rt.spawn([&run, &user, i] { run.user(user, i); }));
    }
  } catch (...) {  // out of memory or stacks: release the users spawned
    run.abandon(users.size());
    for (auto& u : users) u.join();
    throw;
  }
  run.start();

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
      run.recorded().snapshot(so_far);
      progress(so_far, std::chrono::duration<double>(steady::now() - run.started()).count());
    }
  }
  joiner.join();  // rethrows what escaped a user (the recorder's logic_error, say)

  report r;
  r.target = options.name;
  r.model = options.rate > 0 ? "open" : "closed";
  r.connections = options.users;
  r.rate = options.rate;
  r.workers = rt.workers();
  r.duration_s = std::chrono::duration<double>(options.duration).count();
  run.recorded().snapshot(r);
  r.rps = static_cast<double>(r.requests) / r.duration_s;
  return r;
}

}  // namespace weft::load
