// weft::this_fiber: operations on the calling fiber.
#pragma once

#include <chrono>

#include "weft/detail/deadline.hpp"
#include "weft/fiber_id.hpp"

namespace weft::this_fiber {

/// Lets the other fibers that are ready on this worker run first, then
/// continues (the yielder goes behind them; a periodic fairness step may
/// occasionally pick the oldest waiting fiber first, which can be a
/// yielder). A fiber that yields in a loop never starves the others. On a
/// plain thread: std::this_thread::yield().
void yield();

/// Parks the calling fiber until `deadline` (a plain thread sleeps). Returns
/// at once if the deadline has passed. A cancellation point: a cancelled
/// fiber's sleep throws weft::cancelled at once (<weft/cancel.hpp>).
void sleep_until(std::chrono::steady_clock::time_point deadline);

/// Parks the calling fiber until `deadline` of any clock, converted to
/// steady_clock when called.
template <class Clock, class Duration>
void sleep_until(const std::chrono::time_point<Clock, Duration>& deadline) {
  sleep_until(detail::to_steady(deadline));
}

/// Parks the calling fiber for at least `duration`. Returns at once for a
/// zero or negative duration.
template <class Rep, class Period>
void sleep_for(const std::chrono::duration<Rep, Period>& duration) {
  if (duration <= duration.zero()) return;
  sleep_until(detail::deadline_after(duration));
}

/// The calling fiber's id; fiber_id{} on a plain thread.
fiber_id get_id() noexcept;

}  // namespace weft::this_fiber
