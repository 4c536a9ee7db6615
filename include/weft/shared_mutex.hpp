// weft::shared_mutex: a readers-writer lock that parks waiting fibers.
#pragma once

#include <atomic>
#include <cstdint>

#include "weft/detail/wait_list.hpp"

namespace weft {

class shared_mutex;
namespace detail {
/// An address on the stack of `m`'s exclusive holder; 0 if none (diagnostics).
std::uintptr_t writer_of(const shared_mutex& m) noexcept;
}  // namespace detail

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

  /// Exclusive ownership. lock() by the fiber or thread that holds it
  /// exclusively throws std::system_error (resource_deadlock_would_occur).
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
  /// An address on the exclusive holder's stack; 0 if none. Written under
  /// the lock, read without it by the relock check and diagnostics
  /// (runtime/sync/ownership.hpp).
  std::atomic<std::uintptr_t> writer_at_{0};
  friend std::uintptr_t detail::writer_of(const shared_mutex& m) noexcept;
};

}  // namespace weft
