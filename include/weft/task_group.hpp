// weft::task_group: structured fork-join.
#pragma once

#include <deque>
#include <exception>
#include <mutex>
#include <utility>

#include "weft/cancel.hpp"
#include "weft/join_handle.hpp"
#include "weft/mutex.hpp"
#include "weft/runtime.hpp"

namespace weft {

/// Spawns tasks as fibers on the current runtime (the default runtime from
/// a plain thread) and waits for all of them. Like tbb::task_group or Go's
/// errgroup: the first task that throws (anything but weft::cancelled)
/// cancels the others (join_handle::cancel(): tasks not started yet never
/// run, running ones get weft::cancelled at their next wait), and wait()
/// rethrows that first exception. spawn() may be called from the group's
/// own tasks; a task spawned after a failure is cancelled at once.
///
/// wait() is a cancellation point: a fiber cancelled while it waits cancels
/// the group's tasks and throws weft::cancelled. The destructor waits for
/// every task to end, whatever happens (no task outlives its group), and
/// drops any exception.
class task_group {
 public:
  task_group() = default;
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;
  ~task_group() {
    const cancellation_shield shield;  // the tasks refer to the group: wait them out
    try {
      wait();
    } catch (...) {  // NOLINT(bugprone-empty-catch): documented: dropped if never waited for
    }
  }

  /// Starts `fn()` as a task of the group.
  template <class F>
  void spawn(F&& fn) {
    runtime* rt = runtime::current();
    join_handle<void> h =
        (rt ? *rt : default_runtime()).spawn([this, body = std::forward<F>(fn)]() mutable {
          try {
            body();
          } catch (const cancelled&) {
            throw;
          } catch (...) {
            fail(std::current_exception());
            throw;
          }
        });
    const cancellation_shield shield;  // bookkeeping, not a wait of the caller's
    std::lock_guard<mutex> hold(lock_);
    if (first_error_) h.cancel();
    tasks_.push_back(std::move(h));
  }

  /// Asks every task of the group to stop (join_handle::cancel()); returns
  /// at once. Tasks spawned later still run.
  void cancel() {
    const cancellation_shield shield;
    std::lock_guard<mutex> hold(lock_);
    cancel_locked();
  }

  /// Waits until every task (including tasks spawned meanwhile) finished;
  /// then rethrows the first exception a task threw, or weft::cancelled if
  /// tasks ended cancelled (and none threw anything else).
  void wait() {
    std::exception_ptr ended_cancelled;
    for (;;) {
      join_handle<void>* next = nullptr;
      {
        const cancellation_shield shield;
        std::lock_guard<mutex> hold(lock_);
        while (joined_ < tasks_.size() && !tasks_[joined_].joinable()) ++joined_;
        if (joined_ == tasks_.size()) {
          tasks_.clear();
          joined_ = 0;
          break;
        }
        next = &tasks_[joined_];  // a deque: stays put while others are added
      }
      try {
        next->wait();  // only this loop empties handles, so `next` stays joinable
      } catch (const cancelled&) {
        cancel();  // the waiter is cancelled: so is the work it waits for
        throw;
      }
      const cancellation_shield shield;
      std::lock_guard<mutex> hold(lock_);
      try {
        next->join();  // finished: returns at once
      } catch (const cancelled&) {
        ended_cancelled = std::current_exception();
      } catch (...) {  // NOLINT(bugprone-empty-catch): fail() kept the first one
      }
    }
    const cancellation_shield shield;
    std::lock_guard<mutex> hold(lock_);
    if (std::exception_ptr first = std::exchange(first_error_, nullptr)) {
      std::rethrow_exception(first);
    }
    if (ended_cancelled) std::rethrow_exception(ended_cancelled);
  }

 private:
  void fail(std::exception_ptr error) {
    const cancellation_shield shield;
    std::lock_guard<mutex> hold(lock_);
    if (first_error_) return;
    first_error_ = std::move(error);
    cancel_locked();
  }

  void cancel_locked() {
    for (auto& t : tasks_) {
      if (t.joinable()) t.cancel();
    }
  }

  mutex lock_;
  std::deque<join_handle<void>> tasks_;  // guarded by lock_; [0, joined_) are joined
  std::size_t joined_ = 0;               // guarded by lock_
  std::exception_ptr first_error_;       // guarded by lock_
};

}  // namespace weft
