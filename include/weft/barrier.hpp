// weft::barrier: a reusable rendezvous that parks waiting fibers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "weft/detail/wait_list.hpp"

namespace weft {

/// As std::barrier without a completion function: each phase ends when
/// `count` participants have arrived; then all waiters resume and the next
/// phase begins with the same count (less those that dropped).
class barrier {
 public:
  /// Throws std::invalid_argument if `count` < 0.
  explicit barrier(std::ptrdiff_t count);
  barrier(const barrier&) = delete;
  barrier& operator=(const barrier&) = delete;

  /// Arrives and waits for the phase to end.
  void arrive_and_wait();
  /// Arrives and leaves: later phases expect one participant fewer.
  void arrive_and_drop();

 private:
  void complete_phase_locked();

  detail::wait_list waiters_;  // its lock also guards the fields below
  std::ptrdiff_t expected_;
  std::ptrdiff_t remaining_;
  std::uint64_t phase_ = 0;
};

}  // namespace weft
