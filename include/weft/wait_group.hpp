// weft::wait_group: waits for a collection of tasks, as Go's sync.WaitGroup.
#pragma once

#include <atomic>
#include <cstddef>

#include "weft/detail/wait_list.hpp"

namespace weft {

/// A counter of outstanding tasks: add() before starting them, done() as
/// each finishes, wait() until the counter is zero. Reusable. add() and
/// done() are one atomic operation each, except the one that reaches zero,
/// which wakes the waiters.
class wait_group {
 public:
  wait_group() noexcept = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  /// Adds `n` (may be negative). Throws std::logic_error, changing nothing,
  /// if the counter would go negative.
  void add(std::ptrdiff_t n = 1);
  /// add(-1).
  void done() { add(-1); }
  /// Waits until the counter is zero (returns at once if it is).
  void wait();

 private:
  std::atomic<std::ptrdiff_t> counter_{0};
  detail::wait_list waiters_;
};

}  // namespace weft
