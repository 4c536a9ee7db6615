// weft-load: custom scenarios. A virtual user is a plain sequential C++
// function; run_scenario runs N of them, each on its own fiber, for a
// duration, and reports what they measured with the report machinery of
// the built-in HTTP run (which is itself one such scenario, see load.cpp).
//
//   void user(virtual_user& vu) {
//     http_connection conn(vu, target);      // http_connection.hpp
//     while (vu.next_iteration()) {          // false once the run is over
//       conn.send(login);                    // each request measured and
//       conn.send(add_to_cart);              // recorded (response or error)
//     }
//   }
//
// Closed model (rate 0): next_iteration() returns at once, so each user
// starts its next iteration as soon as the last one is done.
//
// Open model (rate R): iterations are due at fixed *intended* times, R per
// second over all users, user u of N at start + u/R + k*N/R (with stages,
// the n-th iteration is due when the integral of the rate reaches n, and
// user u takes n = u + k*N); next_iteration()
// waits for the next one (and returns at once when the user is late). The
// first measurement of an iteration counts from its intended start, so the
// time a late user spent behind its schedule is charged to the request it
// delayed (the coordinated-omission correction of wrk2); later ones in the
// same iteration count from when they are opened.
//
// Stages (stages.hpp): the closed model's users or the open model's rate
// may follow a ramp instead of staying constant. A closed-model user past
// the ramp's level finds next_iteration() false (its function returns, its
// connections close) and is called afresh once the level includes it again;
// a user the ramp takes out while it waits (a request in flight) has that
// wait cancelled (weft::with_timeout up to the moment it is taken out).
//
// The window: the duration starts once every user's fiber runs (the time
// spawning them takes is not counted). At its end every user's fiber is
// cancelled (join_handle::cancel(): its current wait throws
// weft::cancelled, its locals, connections included, unwind), and so it is
// when the run is stopped early (scenario_options::stop, Ctrl-C). A request
// in flight then is counted as `cancelled`: neither a response nor an error
// (the same for one a ramp-down cancels). Nothing that completes after the
// end is recorded, and an open-model iteration not yet due is not started.
// A user function may catch weft::cancelled to clean up, but should then
// rethrow it (or return): next_iteration() is false from then on anyway.
//
// A user function that throws is counted as one error of kind `other` and
// started again (a fresh call: its locals, connections included, are gone)
// unless the run is over; in the open model it keeps its place in the
// schedule. run_scenario itself never rethrows what a user throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "report.hpp"
#include "stages.hpp"
#include "weft/runtime.hpp"

namespace weft::load {

class recorder;
class scenario_run;

/// How to run a scenario. run_scenario checks it.
struct scenario_options {
  /// Virtual users, one fiber each; > 0.
  unsigned users = 64;
  /// How long the run lasts, from the moment every user runs; > 0.
  std::chrono::nanoseconds duration = std::chrono::seconds(10);
  /// 0: closed model; > 0 (and finite): open model, iterations per second
  /// over all users.
  double rate = 0;
  /// Per request (virtual_user::deadline); > 0.
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);
  /// What the report calls the target.
  std::string name = "scenario";
  /// Non-empty: the load follows these stages (stages.hpp) and the run
  /// lasts their sum (`duration` is not used). Closed model: the users ramp
  /// from 0 (`users` is not used: the stages' peak is the number of
  /// fibers); open model: the rate ramps from `rate`, carried by `users`.
  std::vector<stage> stages;
  /// A stop requested (from any thread) ends the run early, as its end
  /// does: the users are cancelled, and the report covers the time that ran
  /// and says it was interrupted.
  std::stop_token stop;
};

/// Called about once a second, on the thread that called run_scenario, with
/// the counts so far and the seconds since the start.
using progress_fn = std::function<void(const report& so_far, double elapsed_s)>;

/// What a user function is handed: its place in the run, its schedule, and
/// where it records. One per user, used by that user's fiber only.
class virtual_user {
 public:
  using clock = std::chrono::steady_clock;

  /// Times one operation from its start (see measure()) to done().
  class measurement {
   public:
    /// Records a complete response: latency from the start to now, its
    /// status (an HTTP status 100..599; any other value, such as 0 for a
    /// non-HTTP operation, is counted as a request but not by status) and
    /// the bytes read. Dropped when the run is over. Once per measurement.
    void done(int status, std::uint64_t bytes = 0);
    /// When the clock started.
    [[nodiscard]] clock::time_point start() const noexcept { return start_; }

   private:
    friend class virtual_user;
    measurement(virtual_user& vu, clock::time_point start) : vu_(vu), start_(start) {}
    virtual_user& vu_;
    clock::time_point start_;
  };

  /// Begins the next iteration: closed model, at once; open model, waits
  /// until its intended start. False once the run is over, or when stages
  /// have taken this user out (then the user function should return).
  bool next_iteration();

  /// Starts timing an operation: from now, or, for the first measurement of
  /// an open-model iteration, from the iteration's intended start. A
  /// measurement never done() records nothing (record a failure with
  /// error()).
  [[nodiscard]] measurement measure();
  /// Records a failed operation (dropped when the run is over).
  void error(error_kind kind);
  /// Records a connection opened.
  void connected();
  /// Records the open measurement, if any (one measure() not yet done()
  /// nor followed by error()), as cancelled in flight. Called by the run
  /// when a cancellation ends the user's function.
  void cancel_in_flight();

  /// The user's number, 0 .. users-1.
  [[nodiscard]] unsigned index() const noexcept { return index_; }
  [[nodiscard]] const scenario_options& options() const noexcept { return options_; }
  /// True in the open model (options().rate > 0).
  [[nodiscard]] bool open_model() const noexcept { return options_.rate > 0; }
  /// The end of the run.
  [[nodiscard]] clock::time_point end() const noexcept { return end_; }
  /// True once the run is over (its end is past, or it was stopped: the
  /// user's fiber is cancelled).
  [[nodiscard]] bool over() const;
  /// The deadline for an operation starting now: now + options().timeout
  /// (the end of the run cancels the wait, see above).
  [[nodiscard]] clock::time_point deadline() const;

  virtual_user(const virtual_user&) = delete;
  virtual_user& operator=(const virtual_user&) = delete;

 private:
  friend class scenario_run;  ///< creates the users (scenario.cpp)
  /// `pace`: the open model's rate (null in the closed model); `crowd`:
  /// the closed model's users when staged (null otherwise); both outlive
  /// the user.
  virtual_user(const scenario_options& options, recorder& rec, unsigned index, unsigned users,
               clock::time_point start, clock::time_point end, const ramp* pace, const ramp* crowd);
  /// Closed model with stages: waits until the ramp includes this user.
  /// False once the run is over or the ramp never includes it again.
  bool wait_until_included();
  /// Whether next_iteration() last returned false because the stages took
  /// this user out (and clears that).
  bool take_removed() noexcept { return std::exchange(removed_, false); }

  const scenario_options& options_;
  recorder& rec_;
  unsigned index_;
  unsigned users_;  ///< the run's fibers
  clock::time_point start_;
  clock::time_point end_;
  const ramp* pace_;
  const ramp* crowd_;
  double next_arrival_;     ///< open model: the number of this user's next request in the schedule
  bool removed_ = false;    ///< see take_removed()
  bool measuring_ = false;  ///< a measure() not yet done() nor failed
  /// Open model: the current iteration's intended start until its first
  /// measure(); otherwise time_point::min() (a measurement starts now).
  clock::time_point unclaimed_start_ = clock::time_point::min();
};

/// Runs `user` as options.users virtual users on `rt` for options.duration
/// and returns what they recorded (target: options.name; connections: the
/// users). Throws std::invalid_argument naming the option for 0 users, a
/// duration or timeout that is not positive, a rate that is negative or
/// not finite, or stages that are bad (a duration that is not positive, a
/// target below 0 or not finite) or, in the closed model, never reach one
/// user. Call from a plain thread (it blocks until the run is over),
/// not from one of rt's fibers.
report run_scenario(weft::runtime& rt, const scenario_options& options,
                    const std::function<void(virtual_user&)>& user,
                    const progress_fn& progress = {});

}  // namespace weft::load
