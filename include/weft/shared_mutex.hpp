// weft::shared_mutex: a readers-writer lock that parks waiting fibers.
#pragma once

#include <cstdint>

#include "weft/detail/wait_list.hpp"

namespace weft {

/// Many readers or one writer, for fibers and threads alike (works with
/// std::unique_lock and std::shared_lock). Waiters are served in FIFO order:
/// a queued writer stops newer readers from entering, so writers do not
/// starve, and a writer's release admits the whole run of readers queued
/// behind it.
class shared_mutex {
 public:
  shared_mutex() noexcept = default;
  shared_mutex(const shared_mutex&) = delete;
  shared_mutex& operator=(const shared_mutex&) = delete;

  /// Exclusive ownership.
  void lock();
  bool try_lock() noexcept;
  /// Throws std::logic_error if not held exclusively.
  void unlock();

  /// Shared ownership.
  void lock_shared();
  bool try_lock_shared() noexcept;
  /// Throws std::logic_error if no reader holds it.
  void unlock_shared();

 private:
  detail::wait_list waiters_;  // its lock also guards the two fields below
  std::uint32_t readers_ = 0;
  bool writer_ = false;
};

}  // namespace weft
