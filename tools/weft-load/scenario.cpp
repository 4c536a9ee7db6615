// weft-load: run_scenario and the virtual user's schedule (scenario.hpp):
// the start line that opens the window once every user runs, the open
// model's pacing, the measurement clock and the rule that nothing after the
// end of the window is recorded.
#include "scenario.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <vector>

#include "recorder.hpp"
#include "weft/cancel.hpp"
#include "weft/channel.hpp"
#include "weft/join_handle.hpp"
#include "weft/latch.hpp"
#include "weft/this_fiber.hpp"

namespace weft::load {

namespace {

using steady = virtual_user::clock;
using std::chrono::nanoseconds;

void check(const scenario_options& o) {
  if (o.users == 0 && (o.stages.empty() || o.rate > 0)) {
    throw std::invalid_argument("scenario_options.users must be at least 1");
  }
  if (o.duration <= nanoseconds::zero() && o.stages.empty()) {
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

// The open model's rate over the run: the stages from `rate`, or `rate`
// throughout.
std::optional<ramp> pace_of(const scenario_options& o) {
  if (o.rate <= 0) return std::nullopt;
  return o.stages.empty() ? ramp::constant(o.rate, o.duration) : ramp(o.rate, o.stages);
}

// The closed model's users over the run, when staged.
std::optional<ramp> crowd_of(const scenario_options& o) {
  if (o.rate > 0 || o.stages.empty()) return std::nullopt;
  ramp r(0, o.stages);
  if (r.most_users() == 0) {
    throw std::invalid_argument("scenario_options.stages never reach one user");
  }
  return r;
}

// A ramp's constructor says what is wrong with a stage: named here.
template <class Make>
auto checked_stages(Make make) {
  try {
    return make();
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    if (what.starts_with("scenario_options")) throw;
    throw std::invalid_argument("scenario_options.stages: " + what);
  }
}

// t + d, or time_point::max() where that would overflow (d >= 0).
steady::time_point saturating_add(steady::time_point t, steady::duration d) {
  return t > steady::time_point::max() - d ? steady::time_point::max() : t + d;
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
      : options_(options),
        pace_(checked_stages([&] { return pace_of(options); })),
        crowd_(checked_stages([&] { return crowd_of(options); })),
        users_(crowd_ ? crowd_->most_users() : options.users),
        length_(pace_    ? pace_->length()
                : crowd_ ? crowd_->length()
                         : options.duration),
        rec_(workers + 1),
        ready_(users_) {}

  // A user's fiber: waits at the start line, then calls `fn` until it
  // returns or the run is over (see scenario.hpp for a function that
  // throws). The run's end cancels the fiber: the weft::cancelled that
  // ends it is the end of the user, not an error.
  void user(const std::function<void(virtual_user&)>& fn, unsigned index) {
    ready_.count_down();
    go_.wait();
    virtual_user vu(options_, rec_, index, users_, start_, end_, pace_ ? &*pace_ : nullptr,
                    crowd_ ? &*crowd_ : nullptr);
    try {
      while (vu.wait_until_included()) {
        try {
          if (call(fn, vu)) {
            vu.cancel_in_flight();  // the stages took the user out while it waited
            continue;
          }
          if (!vu.take_removed()) return;  // done, or the run is over
          continue;                        // taken out by the stages: wait to come back
        } catch (const weft::cancelled&) {
          throw;
        } catch (...) {
          vu.error(error_kind::other);
        }
        vu.unclaimed_start_ = steady::time_point::min();  // a fresh call times from its own start
        this_fiber::yield();  // a function that throws at once must not hold its worker
      }
    } catch (const weft::cancelled&) {
      vu.cancel_in_flight();  // the end of the run, or a stop
    }
  }

  // Cancels every user, once the window is over or a stop was requested,
  // whichever comes first; then joins them. Runs on a fiber of its own,
  // the only one that touches `users` meanwhile. Returns the time the run
  // stopped at if a stop cut it short. Rethrows the first exception other
  // than weft::cancelled that escaped a user.
  std::optional<steady::time_point> supervise(std::vector<weft::join_handle<void>>& users,
                                              weft::channel<int> stop) {
    std::optional<steady::time_point> stopped;
    int unused = 0;
    if (stop.recv_for(unused, end_ - steady::now()) == weft::channel_status::closed) {
      stopped = std::min(steady::now(), end_);
    }
    for (auto& u : users) u.cancel();
    std::exception_ptr first;
    for (auto& u : users) {
      try {
        u.join();
      } catch (const weft::cancelled&) {
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    if (first) std::rethrow_exception(first);
    return stopped;
  }

  // Counts down the places of users that were never spawned (spawning
  // failed), waits for the others and releases them with an empty window.
  void abandon(std::size_t spawned) {
    ready_.count_down(static_cast<std::ptrdiff_t>(users_ - spawned));
    ready_.wait();
    open(steady::now(), nanoseconds::zero());
  }

  // Waits until every user runs, then opens the window, now.
  void start() {
    ready_.wait();
    open(steady::now(), length_);
  }

  [[nodiscard]] steady::time_point started() const noexcept { return start_; }
  /// The number of user fibers (the stages' peak in the closed model).
  [[nodiscard]] unsigned users() const noexcept { return users_; }
  /// How long the run lasts.
  [[nodiscard]] nanoseconds length() const noexcept { return length_; }
  /// The open model's requests/s asked for: the (highest) rate.
  [[nodiscard]] double rate() const noexcept { return pace_ ? pace_->peak() : 0; }

  /// The timeline, once the users have been joined: each second of the
  /// window's first `covered` (all of it, or up to a stop) with the users
  /// and the rate in force at its middle. Sized by what ran, not by what
  /// was planned: a run of -d 1000h stopped after a second has 1 second.
  [[nodiscard]] std::vector<timeline_second> timeline(nanoseconds covered) const {
    const double length_s = std::chrono::duration<double>(std::min(covered, length_)).count();
    auto seconds = rec_.timeline(static_cast<std::size_t>(std::ceil(length_s)));
    for (timeline_second& s : seconds) {
      const double t = static_cast<double>(s.t);
      const auto middle = std::chrono::duration_cast<nanoseconds>(
          std::chrono::duration<double>((t + std::min(t + 1, length_s)) / 2));
      s.users = crowd_ ? crowd_->users_at(middle) : users_;
      s.rate = pace_ ? pace_->at(middle) : 0;
    }
    return seconds;
  }
  [[nodiscard]] const recorder& recorded() const noexcept { return rec_; }

 private:
  // Calls fn(vu); with stages in the closed model, only until the ramp
  // takes the user out: true if a wait was still going on then (it threw
  // weft::cancelled inside fn). A function that returns or throws first is
  // not affected, and a weft::timeout_error of its own (from a
  // with_timeout inside it) passes through as any exception it throws.
  bool call(const std::function<void(virtual_user&)>& fn, virtual_user& vu) const {
    const auto now = steady::now();
    const auto out = crowd_ ? crowd_->stops(vu.index(), now - start_) : std::nullopt;
    if (!out || saturating_add(start_, *out) >= end_) {
      fn(vu);
      return false;
    }
    std::exception_ptr thrown;  // by fn itself: kept apart from our own timeout
    try {
      weft::with_timeout(saturating_add(start_, *out) - now, [&] {
        try {
          fn(vu);
        } catch (const weft::cancelled&) {
          throw;  // ours (or the fiber's): with_timeout tells which
        } catch (...) {
          thrown = std::current_exception();
        }
      });
    } catch (const weft::timeout_error&) {
      return true;
    }
    if (thrown) std::rethrow_exception(thrown);
    return false;
  }

  void open(steady::time_point start, nanoseconds duration) {
    start_ = start;
    rec_.begin(start);
    end_ = saturating_add(start, duration);
    go_.count_down();  // publishes start_ and end_
  }

  const scenario_options& options_;
  const std::optional<ramp> pace_;   ///< open model: the rate
  const std::optional<ramp> crowd_;  ///< closed model with stages: the users
  const unsigned users_;
  const nanoseconds length_;
  recorder rec_;
  weft::latch ready_;  ///< each user counts down once it runs
  weft::latch go_{1};  ///< opened by open() once start_ and end_ are set
  steady::time_point start_{};
  steady::time_point end_{};
};

virtual_user::virtual_user(const scenario_options& options, recorder& rec, unsigned index,
                           unsigned users, steady::time_point start, steady::time_point end,
                           const ramp* pace, const ramp* crowd)
    : options_(options),
      rec_(rec),
      index_(index),
      users_(users),
      start_(start),
      end_(end),
      pace_(pace),
      crowd_(crowd),
      next_arrival_(index) {}

bool virtual_user::wait_until_included() {
  while (!over()) {
    if (crowd_ == nullptr || crowd_->users_at(steady::now() - start_) > index_) return true;
    const auto back = crowd_->starts(index_, steady::now() - start_);
    // Never again: the fiber stays until the end, so that the run lasts its
    // stages even when the last ones have no user.
    this_fiber::sleep_until(back ? std::min(saturating_add(start_, *back), end_) : end_);
  }
  return false;
}

bool virtual_user::over() const {
  return clock::now() >= end_ || this_fiber::cancellation_requested();
}

bool virtual_user::next_iteration() {
  if (pace_ != nullptr) {
    // This user's share of the schedule: requests u, u + N, u + 2N, ...
    const auto due = pace_->arrival(next_arrival_);
    if (!due) return false;
    const auto intended = saturating_add(start_, *due);
    if (intended >= end_) return false;
    next_arrival_ += users_;
    this_fiber::sleep_until(intended);  // returns at once when late
    unclaimed_start_ = intended;
  } else if (crowd_ != nullptr && !over() && crowd_->users_at(steady::now() - start_) <= index_) {
    removed_ = true;  // the stages took this user out
    return false;
  }
  return !over();
}

virtual_user::measurement virtual_user::measure() {
  const auto start =
      unclaimed_start_ != steady::time_point::min() ? unclaimed_start_ : steady::now();
  unclaimed_start_ = steady::time_point::min();
  measuring_ = true;
  return measurement(*this, start);
}

void virtual_user::measurement::done(int status, std::uint64_t bytes) {
  vu_.measuring_ = false;
  const auto now = steady::now();
  if (now >= vu_.end_) return;  // after the window: dropped
  const auto latency = std::chrono::duration_cast<nanoseconds>(now - start_).count();
  vu_.rec_.response(static_cast<std::uint64_t>(std::max<std::int64_t>(latency, 0)), status, bytes,
                    now);
}

void virtual_user::error(error_kind kind) {
  measuring_ = false;
  const auto now = steady::now();
  if (now < end_) rec_.error(kind, now);
}

void virtual_user::connected() {
  if (!over()) rec_.connected();
}

void virtual_user::cancel_in_flight() {
  if (std::exchange(measuring_, false)) rec_.cancelled();
}

steady::time_point virtual_user::deadline() const {
  return saturating_add(steady::now(), options_.timeout);
}

report run_scenario(weft::runtime& rt, const scenario_options& options,
                    const std::function<void(virtual_user&)>& user, const progress_fn& progress) {
  check(options);
  scenario_run run(options, rt.workers());
  std::vector<weft::join_handle<void>> users;
  users.reserve(run.users());
  try {
    for (unsigned i = 0; i < run.users(); ++i) {
      users.push_back(rt.spawn([&run, &user, i] { run.user(user, i); }));
    }
  } catch (...) {  // out of memory or stacks: release the users spawned
    run.abandon(users.size());
    for (auto& u : users) u.join();
    throw;
  }
  run.start();

  // A fiber cancels the users at the end (or at a stop: the callback, on
  // the thread that asks for it, closes `stop`), joins them and then
  // closes `done`; meanwhile this thread wakes once a second for the
  // progress line.
  weft::channel<int> stop;
  weft::channel<int> done;
  weft::join_handle<std::optional<steady::time_point>> supervisor;
  try {
    supervisor = rt.spawn([&run, &users, stop, done]() mutable {
      struct closer {
        weft::channel<int>& ch;
        ~closer() { ch.close(); }
      } close_done{done};
      return run.supervise(users, stop);
    });
  } catch (...) {  // no fiber for it: the users, which refer to `run`, end here
    for (auto& u : users) u.cancel();
    for (auto& u : users) {
      try {
        u.join();
      } catch (...) {  // NOLINT(bugprone-empty-catch): the spawn's failure is reported
      }
    }
    throw;
  }
  {
    const std::stop_callback on_stop(options.stop, [stop]() mutable { stop.close(); });
    int unused = 0;
    while (done.recv_for(unused, std::chrono::seconds(1)) == weft::channel_status::timeout) {
      if (progress) {
        report so_far;
        run.recorded().snapshot(so_far);
        progress(so_far, std::chrono::duration<double>(steady::now() - run.started()).count());
      }
    }
  }
  // Rethrows what escaped a user (the recorder's logic_error, say).
  const std::optional<steady::time_point> stopped = supervisor.join();

  report r;
  r.target = options.name;
  r.model = options.rate > 0 ? "open" : "closed";
  r.connections = run.users();
  r.rate = run.rate();
  r.workers = rt.workers();
  // The window that ran: all of it, or up to the stop.
  const nanoseconds covered =
      stopped ? std::max(nanoseconds::zero(), *stopped - run.started()) : run.length();
  r.interrupted = stopped.has_value();
  r.duration_s = std::chrono::duration<double>(covered).count();
  run.recorded().snapshot(r);
  r.timeline = run.timeline(covered);
  r.rps = r.duration_s > 0 ? static_cast<double>(r.requests) / r.duration_s : 0;
  return r;
}

}  // namespace weft::load
