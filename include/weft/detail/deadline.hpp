// Internal: converting the durations and time points of any clock to the
// steady-clock deadlines the runtime waits on. Not part of the API.
#pragma once

#include <chrono>
#include <type_traits>

namespace weft::detail {

using steady_time = std::chrono::steady_clock::time_point;

/// `now + d`, clamped: durations too long for the clock mean "never".
template <class Rep, class Period>
steady_time deadline_after(const std::chrono::duration<Rep, Period>& d) {
  using steady = std::chrono::steady_clock;
  if (d <= d.zero()) return steady::now();
  // ~100 years: anything longer (hours::max(), ...) would overflow the clock.
  constexpr auto forever = std::chrono::hours(24 * 365 * 100);
  if (d >= forever) return steady_time::max();
  return steady::now() + std::chrono::ceil<steady::duration>(d);
}

/// A time point of any clock as a steady-clock deadline (measured from now
/// for other clocks, as std::this_thread::sleep_until does).
template <class Clock, class Duration>
steady_time to_steady(const std::chrono::time_point<Clock, Duration>& tp) {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    if (tp == std::chrono::time_point<Clock, Duration>::max()) return steady_time::max();
    return std::chrono::ceil<std::chrono::steady_clock::duration>(tp);
  } else {
    return deadline_after(tp - Clock::now());
  }
}

}  // namespace weft::detail
