// weft::this_fiber: operations on the calling fiber.
#pragma once

#include <chrono>
#include <type_traits>

#include "weft/fiber_id.hpp"

namespace weft::this_fiber {

/// Lets every other fiber that is ready on this worker run first, then
/// continues. On a plain thread: std::this_thread::yield().
void yield();

/// Parks the calling fiber until `deadline` (a plain thread sleeps). Returns
/// at once if the deadline has passed.
void sleep_until(std::chrono::steady_clock::time_point deadline);

/// Parks the calling fiber until `deadline` of any clock, converted to
/// steady_clock when called.
template <class Clock, class Duration>
void sleep_until(const std::chrono::time_point<Clock, Duration>& deadline) {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    sleep_until(std::chrono::ceil<std::chrono::steady_clock::duration>(deadline));
  } else {
    const auto rest = deadline - Clock::now();
    sleep_until(std::chrono::steady_clock::now() +
                std::chrono::ceil<std::chrono::steady_clock::duration>(rest));
  }
}

/// Parks the calling fiber for at least `duration`. Returns at once for a
/// zero or negative duration.
template <class Rep, class Period>
void sleep_for(const std::chrono::duration<Rep, Period>& duration) {
  using steady = std::chrono::steady_clock;
  if (duration <= duration.zero()) return;
  // Durations past ~100 years (e.g. hours::max()) would overflow the clock: sleep "forever".
  constexpr auto forever = std::chrono::hours(24 * 365 * 100);
  if (duration >= forever) {
    sleep_until(steady::time_point::max());
  } else {
    sleep_until(steady::now() + std::chrono::ceil<steady::duration>(duration));
  }
}

/// The calling fiber's id; fiber_id{} on a plain thread.
fiber_id get_id() noexcept;

}  // namespace weft::this_fiber
