// weft::mutex: a mutual-exclusion lock that parks waiting fibers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "weft/detail/deadline.hpp"
#include "weft/detail/wait_list.hpp"

namespace weft {

class mutex;
namespace detail {
/// An address on the stack of `m`'s holder; 0 while it is free (diagnostics).
std::uintptr_t holder_of(const mutex& m) noexcept;
}  // namespace detail

/// Mutual exclusion for fibers and threads alike (Lockable and
/// TimedLockable: works with std::lock_guard, std::unique_lock,
/// std::scoped_lock). A fiber that waits parks and frees its worker; a plain
/// thread blocks. Uncontended lock() and unlock() are one atomic operation
/// each and never allocate.
///
/// Fairness: waiters are woken in FIFO order and compete with newcomers
/// (which keeps throughput high: the lock never waits for a fiber that is
/// not running yet). A woken waiter that loses and has waited 1 ms or more
/// goes back to the head of the queue and the next unlock() hands the lock
/// to it directly, as in Go's starvation mode: so no waiter waits more than
/// about 1 ms plus the critical sections queued ahead of it.
///
/// Misuse: unlocking a mutex that is not locked always aborts with a
/// message; with WEFT_DEBUG_CHECKS, so does unlocking a mutex another fiber
/// or thread holds. Not recursive: lock() (or try_lock_for/until) by the
/// fiber or thread that holds it throws std::system_error with
/// std::errc::resource_deadlock_would_occur instead of waiting forever
/// (try_lock() returns false). The holder is known to runtime::fibers()
/// (fiber_info::blocked_by) and to deadlock detection.
class mutex {
 public:
  mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  /// Acquires the lock, waiting as long as needed. Throws std::system_error
  /// (resource_deadlock_would_occur) if the caller holds it already.
  void lock();
  /// Acquires the lock if it is free now.
  bool try_lock() noexcept;
  /// Releases the lock; wakes (or hands the lock to) the first waiter.
  void unlock();
  /// Tries to acquire the lock for up to `timeout`; false if it timed out.
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return try_lock() || lock_until(detail::deadline_after(timeout));
  }
  /// Tries to acquire the lock until `deadline`; false if it timed out.
  template <class Clock, class Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& deadline) {
    return try_lock() || lock_until(detail::to_steady(deadline));
  }

 private:
  bool lock_until(detail::steady_time deadline);
  bool acquire_slow(detail::steady_time deadline);
  void release_slow();

  /// bit 0: locked; bit 1: the wait list may hold waiters (set and cleared
  /// under the list's lock); bit 2: a woken waiter has not retried yet;
  /// bit 3: the list's head asks for a hand-off (runtime/sync/mutex.cpp).
  std::atomic<std::uint32_t> state_{0};
  /// The state lock() left, read by unlock() as its first guess; written
  /// and read by the holder only (ordered by the lock itself).
  std::uint32_t held_state_ = 0;
  /// The state the last fast unlock() left (without `locked`), lock()'s
  /// first guess: with waiters queued it is not 0, and a guess of 0 would
  /// cost a failed CAS. Written by unlock() before its release; any value
  /// is safe (the CAS checks it).
  std::atomic<std::uint32_t> freed_state_{0};
  /// An address on the holder's stack; 0 while free (runtime/sync/ownership.hpp).
  std::atomic<std::uintptr_t> holder_{0};
  friend std::uintptr_t detail::holder_of(const mutex& m) noexcept;
  detail::wait_list waiters_;
};

}  // namespace weft
