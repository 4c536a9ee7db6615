// weft::task_group: structured fork-join.
#pragma once

#include <exception>
#include <utility>
#include <vector>

#include "weft/join_handle.hpp"
#include "weft/mutex.hpp"
#include "weft/runtime.hpp"

namespace weft {

/// Spawns tasks as fibers on the current runtime (the default runtime from
/// a plain thread) and waits for all of them. Like tbb::task_group or Go's
/// errgroup: wait() rethrows the first exception a task threw (the others
/// are dropped); the destructor waits too (and drops any exception).
/// spawn() may be called from the group's own tasks.
class task_group {
 public:
  task_group() = default;
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;
  ~task_group() {
    try {
      wait();
    } catch (...) {  // NOLINT(bugprone-empty-catch): documented: dropped if never waited for
    }
  }

  /// Starts `fn()` as a task of the group.
  template <class F>
  void spawn(F&& fn) {
    runtime* rt = runtime::current();
    join_handle<void> h = (rt ? *rt : default_runtime()).spawn(std::forward<F>(fn));
    std::lock_guard<mutex> hold(lock_);
    tasks_.push_back(std::move(h));
  }

  /// Waits until every task (including tasks spawned meanwhile) finished;
  /// then rethrows the first exception, if any.
  void wait() {
    std::exception_ptr first;
    for (;;) {
      std::vector<join_handle<void>> batch;
      {
        std::lock_guard<mutex> hold(lock_);
        batch.swap(tasks_);
      }
      if (batch.empty()) break;
      for (auto& t : batch) {
        try {
          t.join();
        } catch (...) {
          if (!first) first = std::current_exception();
        }
      }
    }
    if (first) std::rethrow_exception(first);
  }

 private:
  mutex lock_;
  std::vector<join_handle<void>> tasks_;  // guarded by lock_
};

}  // namespace weft
