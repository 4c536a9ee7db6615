// Internal: the count of a thread pool's unfinished tasks (thread_pool.hpp).
// Not part of the API.
#pragma once

#include <atomic>
#include <cstdint>

#include "weft/detail/wait_list.hpp"

namespace weft::detail {

/// Tasks started and tasks finished, on separate cache lines, and waiters
/// for the two to be equal. A thread pool's submitter counts starts and its
/// workers count finishes: with one counter (a wait_group) every task moved
/// that counter's line from the submitter to a worker and back (pool, 1
/// worker: a quarter of the submitter's samples on its `lock add`).
///
/// Invariants: finished_ <= started_ at every moment (a task is counted as
/// started before it can finish), and `waiting_` is set whenever a waiter
/// is parked in `waiters_` (set under the lock before parking; cleared
/// under the lock only by a release of every waiter, or by a wait() that
/// returns at once with nobody parked; a waiter that leaves on
/// cancellation leaves it set, which costs finishers a look, nothing more).
///
/// All tasks are finished when finished_, then started_, read in that order,
/// are equal: every finished task was started before the first read, and
/// a start between the reads only makes the second larger. A task's own
/// starts (subtasks) precede its finish, which the first read acquires.
///
/// Lifetime: finished() reads `waiting_` after its count, possibly after a
/// waiter saw the count and returned; the owner must outlive every task
/// that may still be in finished() (thread_pool declares it before its
/// runtime, whose destructor waits for every fiber).
class task_tally {
 public:
  /// Before a task can run. Any thread.
  void started() noexcept {
    // relaxed: what a waiter must see of it is ordered by the acquire of
    // finished_ (a subtask's start precedes its parent's finish) or by the
    // waiter's own thread (its own submissions).
    started_.fetch_add(1, std::memory_order_relaxed);
  }
  /// After a task ran (or failed to start). Any thread.
  void finished() noexcept {
    // seq_cst RMW then seq_cst load: the store-load against wait()'s
    // waiting_ RMW then finished_ load; one of the two sees the other.
    // The RMW is also the release a waiter's acquire pairs with: the
    // task's work is visible to a wait() that returns.
    finished_.fetch_add(1, std::memory_order_seq_cst);
    if (waiting_.load(std::memory_order_seq_cst)) [[unlikely]]
      finished_while_waited();
  }
  /// Until every task started so far (and every task those started) has
  /// finished. Parks a fiber; blocks a plain thread.
  void wait();

 private:
  [[nodiscard]] bool all_finished() const noexcept {
    const std::uint64_t finished = finished_.load(std::memory_order_seq_cst);
    return started_.load(std::memory_order_relaxed) == finished;
  }
  void finished_while_waited() noexcept;

  alignas(64) std::atomic<std::uint64_t> started_{0};
  alignas(64) std::atomic<std::uint64_t> finished_{0};
  alignas(64) std::atomic<bool> waiting_{false};
  wait_list waiters_;  // its lock also guards setting and clearing waiting_
};

}  // namespace weft::detail
