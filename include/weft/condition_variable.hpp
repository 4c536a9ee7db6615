// weft::condition_variable: waits on a condition under a weft::mutex, parking.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "weft/detail/deadline.hpp"
#include "weft/detail/wait_list.hpp"
#include "weft/mutex.hpp"

namespace weft {

/// As std::condition_variable, with std::unique_lock<weft::mutex>: a waiting
/// fiber parks, a waiting thread blocks. Wake-ups are FIFO and never
/// spurious (a predicate loop is still the right way to wait).
class condition_variable {
 public:
  condition_variable() noexcept = default;
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;

  /// Atomically releases `lock` and waits for a notification; reacquires it.
  void wait(std::unique_lock<mutex>& lock) { wait_until_steady(lock, detail::steady_time::max()); }
  /// Waits until `stop_waiting()` holds.
  template <class Predicate>
  void wait(std::unique_lock<mutex>& lock, Predicate stop_waiting) {
    while (!stop_waiting()) wait(lock);
  }
  /// Waits for a notification or the deadline.
  template <class Clock, class Duration>
  std::cv_status wait_until(std::unique_lock<mutex>& lock,
                            const std::chrono::time_point<Clock, Duration>& deadline) {
    return wait_until_steady(lock, detail::to_steady(deadline));
  }
  /// Waits until `stop_waiting()` holds or the deadline passes; returns
  /// stop_waiting() at the end.
  template <class Clock, class Duration, class Predicate>
  bool wait_until(std::unique_lock<mutex>& lock,
                  const std::chrono::time_point<Clock, Duration>& deadline,
                  Predicate stop_waiting) {
    const detail::steady_time until = detail::to_steady(deadline);
    while (!stop_waiting()) {
      if (wait_until_steady(lock, until) == std::cv_status::timeout) return stop_waiting();
    }
    return true;
  }
  /// Waits for a notification or `timeout`.
  template <class Rep, class Period>
  std::cv_status wait_for(std::unique_lock<mutex>& lock,
                          const std::chrono::duration<Rep, Period>& timeout) {
    return wait_until_steady(lock, detail::deadline_after(timeout));
  }
  /// Waits until `stop_waiting()` holds or `timeout` passes.
  template <class Rep, class Period, class Predicate>
  bool wait_for(std::unique_lock<mutex>& lock, const std::chrono::duration<Rep, Period>& timeout,
                Predicate stop_waiting) {
    return wait_until(lock, detail::deadline_after(timeout), std::move(stop_waiting));
  }

  /// Wakes the longest-waiting waiter, if any.
  void notify_one() noexcept;
  /// Wakes every waiter.
  void notify_all() noexcept;

 private:
  std::cv_status wait_until_steady(std::unique_lock<mutex>& lock, detail::steady_time deadline);

  detail::wait_list waiters_;
};

}  // namespace weft
