// weft-load: stages, as k6's ramping VUs and ramping arrival rate. A run
// given stages (`--stage 30s:100 --stage 1m:100 --stage 10s:0`) follows a
// piecewise-linear level over time: each stage ramps linearly from where
// the last one ended to its target over its duration, and the run lasts the
// sum of the stages.
//
// In the closed model the level is the number of users: at time t, users
// 0 .. floor(level(t)) - 1 run, starting from 0 users. A user past the
// level finishes its iteration (its request in flight included) and stops;
// it starts again, with a fresh call of its function, once the level comes
// back above it. In the open model the level is the request rate, starting
// from -r's: the n-th request (n = 0, 1, ...) is due when the integral of
// the rate since the start reaches n, so that a constant rate R gives the
// plain open model's n/R.
//
// Every user works this out from the ramp on its own: nothing is shared
// but the (immutable) ramp, and no user waits on another.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

namespace weft::load {

/// One stage: ramp linearly to `target` over `duration`.
struct stage {
  std::chrono::nanoseconds duration{};  ///< > 0
  double target = 0;                    ///< users or requests/s; >= 0
};

/// Parses "D:N" (a duration with its unit, a colon, a number >= 0), e.g.
/// "30s:100" or "1.5m:2500.5". Throws std::invalid_argument saying what is
/// wrong, without naming the option.
stage parse_stage(std::string_view text);

/// A piecewise-linear level over time from a start value through stages.
/// Immutable: any number of fibers may read it at once.
class ramp {
 public:
  using duration = std::chrono::nanoseconds;

  /// From `start` through `stages` (each with a positive duration and a
  /// finite target >= 0; `start` likewise >= 0). Throws
  /// std::invalid_argument for an empty list or a bad stage.
  ramp(double start, std::vector<stage> stages);
  /// The same level `level` for `length`.
  static ramp constant(double level, duration length);

  /// The sum of the stages' durations.
  [[nodiscard]] duration length() const noexcept { return length_; }
  /// The highest level reached.
  [[nodiscard]] double peak() const noexcept { return peak_; }
  /// The level at `t` after the start (the last stage's target past the end).
  [[nodiscard]] double at(duration t) const noexcept;
  /// Closed model: the most users that run at once (users_at the peak).
  [[nodiscard]] unsigned most_users() const noexcept;
  /// Closed model: how many users run at `t`.
  [[nodiscard]] unsigned users_at(duration t) const noexcept;
  /// Closed model: the first time at or after `from` at which user `index`
  /// runs, or nothing if it never does again.
  [[nodiscard]] std::optional<duration> starts(unsigned index, duration from) const noexcept;
  /// Closed model: the first time at or after `from` at which user `index`
  /// no longer runs, or nothing if it runs to the end.
  [[nodiscard]] std::optional<duration> stops(unsigned index, duration from) const noexcept;
  /// Open model: when the `n`-th request is due (n = 0, 1, ...): the time
  /// at which the integral of the rate reaches n; nothing if after the end.
  [[nodiscard]] std::optional<duration> arrival(double n) const noexcept;

 private:
  /// The first time at or after `from` at which the level is at least
  /// `level` (`rising`) or below it (otherwise), or nothing if never.
  [[nodiscard]] std::optional<duration> crossing(double level, bool rising,
                                                 duration from) const noexcept;

  struct segment {
    double begin_s;  ///< start, seconds after the start of the run
    double length_s;
    double from;
    double to;
  };
  std::vector<segment> segments_;
  duration length_{};
  double peak_ = 0;
};

}  // namespace weft::load
