// weft::semaphore: a counting semaphore that parks waiting fibers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "weft/detail/deadline.hpp"
#include "weft/detail/wait_list.hpp"

namespace weft {

/// A counting semaphore (as std::counting_semaphore, without a compile-time
/// maximum). release() hands units to waiters in FIFO order before it adds
/// to the count, so a waiter is never passed over by a later acquire().
class semaphore {
 public:
  /// Throws std::invalid_argument if `initial` < 0 or does not fit in 32 bits.
  explicit semaphore(std::ptrdiff_t initial);
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Takes one unit, waiting for one if needed.
  void acquire() { (void)acquire_until(detail::steady_time::max()); }
  /// Takes one unit if available now.
  bool try_acquire() noexcept;
  template <class Rep, class Period>
  bool try_acquire_for(const std::chrono::duration<Rep, Period>& timeout) {
    return try_acquire() || acquire_until(detail::deadline_after(timeout));
  }
  template <class Clock, class Duration>
  bool try_acquire_until(const std::chrono::time_point<Clock, Duration>& deadline) {
    return try_acquire() || acquire_until(detail::to_steady(deadline));
  }
  /// Adds `n` units (waking up to `n` waiters). Throws std::invalid_argument
  /// if n < 0, std::overflow_error if the count would exceed 2^32 - 1. The
  /// semaphore may be destroyed as soon as a waiter that this call woke (or a
  /// try_acquire that took a unit it added) returns.
  void release(std::ptrdiff_t n = 1);

 private:
  bool acquire_until(detail::steady_time deadline);

  /// Low 32 bits: free units; high 32 bits: waiters queued (see semaphore.cpp).
  std::atomic<std::uint64_t> state_;
  detail::wait_list waiters_;
};

}  // namespace weft
