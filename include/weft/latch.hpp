// weft::latch: a single-use countdown that parks waiting fibers.
#pragma once

#include <atomic>
#include <cstddef>

#include "weft/detail/wait_list.hpp"

namespace weft {

/// As std::latch: count_down() decrements, wait() waits for zero.
class latch {
 public:
  /// Throws std::invalid_argument if `count` < 0.
  explicit latch(std::ptrdiff_t count);
  latch(const latch&) = delete;
  latch& operator=(const latch&) = delete;

  /// Decrements by `n`; at zero wakes every waiter. Throws std::logic_error
  /// (and changes nothing) if `n` < 0 or exceeds the count left.
  void count_down(std::ptrdiff_t n = 1);
  /// True once the count reached zero (then the latch may be destroyed).
  [[nodiscard]] bool try_wait() const noexcept;
  /// Waits for zero.
  void wait();
  /// count_down(n), then wait().
  void arrive_and_wait(std::ptrdiff_t n = 1);

 private:
  std::atomic<std::ptrdiff_t> count_;
  mutable detail::wait_list waiters_;
};

}  // namespace weft
