// spinlock: a test-and-test-and-set lock for critical sections of a few
// dozen instructions (wait lists, timer heaps, registry shards).
#pragma once

#include <atomic>

namespace weft::detail {

/// Emits the CPU's spin-wait hint (x86 `pause`, arm `yield`).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

/// BasicLockable. Never held across a context switch except where a park
/// protocol says so (the lock is then released by the context switched to).
/// Waiters spin on a plain load (no cache-line ping-pong) and only retry the
/// exchange when the lock looks free.
class spinlock {
 public:
  void lock() noexcept {
    // acquire: pairs with the release in unlock(); what the previous holder
    // wrote inside the critical section is visible to us.
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) cpu_relax();
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  // release: publishes the critical section to the next lock() (acquire).
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace weft::detail
