// timers: a worker's deadlines (sleeping fibers, timed waits), in a binary
// min-heap guarded by a spinlock.
//
// Each worker owns one heap; a fiber's timer goes on the heap of the worker
// it parked on. The owner fires due timers as it schedules (every 61 ticks
// and when it runs out of work); a worker searching for work also fires due
// timers of the others, so a busy worker's timers are not stuck behind a
// long-running fiber when another worker is free; and a worker about to
// sleep bounds its sleep by the earliest deadline of all heaps.
//
// Cancellation (a timed wait woken before its deadline) removes the entry in
// O(log n) through its stored heap index. `fire` callbacks run with the heap
// lock held, so a canceller that takes the lock afterwards knows the
// callback is over.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>
#include <limits>
#include <vector>

#include "platform/spinlock.hpp"

namespace weft::detail {

inline constexpr std::int64_t no_deadline = std::numeric_limits<std::int64_t>::max();

/// The time left until a steady-clock deadline (never negative), in the form
/// ppoll(2) and epoll_pwait2(2) take: limit() is nullptr for no_deadline.
class time_left {
 public:
  explicit time_left(std::int64_t deadline_ns) noexcept;
  [[nodiscard]] timespec* limit() noexcept { return limited_ ? &rest_ : nullptr; }

 private:
  timespec rest_{};
  bool limited_ = false;
};

/// One deadline; embedded in whatever waits (lives on the waiter's stack).
struct timer_entry {
  std::int64_t deadline_ns = no_deadline;              ///< steady clock
  void (*fire)(timer_entry* self) noexcept = nullptr;  ///< called with the heap lock held
  std::size_t heap_index = not_queued;                 ///< guarded by the heap lock
  static constexpr std::size_t not_queued = static_cast<std::size_t>(-1);
};

class timer_heap {
 public:
  /// Queues `entry`. Any thread. True if it became the earliest deadline.
  bool add(timer_entry* entry);
  /// Removes `entry` if still queued; false if it already fired. Any thread.
  /// When it returns, no fire callback of `entry` is running.
  bool remove(timer_entry* entry) noexcept;

  /// Pops every entry due at `now_ns` and calls its fire(). Returns how many. Any thread.
  std::size_t fire_due(std::int64_t now_ns) noexcept;
  /// Earliest deadline, or no_deadline. Any thread; a relaxed snapshot.
  [[nodiscard]] std::int64_t earliest() const noexcept {
    return earliest_.load(std::memory_order_relaxed);
  }

 private:
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void place(std::size_t i, timer_entry* e) noexcept;
  void remove_at(std::size_t i) noexcept;
  void publish_earliest() noexcept;

  spinlock lock_;
  std::vector<timer_entry*> heap_;  // guarded by lock_
  // Written under lock_, read without it: relaxed, as a hint only. A reader
  // that sees a stale value either takes the lock for nothing or fires a
  // timer a little later (at its next check). A sleeping worker that missed
  // a new earliest deadline is woken by worker::add_timer to re-read it.
  std::atomic<std::int64_t> earliest_{no_deadline};
};

}  // namespace weft::detail
