// idle: which workers look for work and which sleep, and the protocol that
// wakes a sleeper when work appears, without lost wake-ups and without
// waking everyone.
//
// A worker out of local work becomes a *searcher* (steals, polls the inject
// queue and other workers' timers) for a bounded number of rounds, then a
// *sleeper* (futex wait on its own word, bounded by the earliest timer).
//
// Whoever makes a fiber runnable (spawn, wake, timer) calls
// notify_work_available(): if some worker is searching, it does nothing (the
// searcher will find the fiber, and a searcher that finds work while being
// the last searcher calls notify again, so wake-ups chain one worker at a
// time, as in Go's scheduler); else it pops one sleeper, counts it as a
// searcher on its behalf (so a burst of spawns wakes one worker, not all),
// and wakes it.
//
// No lost wake-up. This is a store-load (Dekker) pattern:
//   notifier: store work (queue push)  ; fence(seq_cst) ; load searching, sleeping
//   sleeper:  store sleeping+1, searching-1 ; fence(seq_cst) ; load all queues
// With both fences, at least one side sees the other's store: either the
// notifier sees the sleeper (and wakes it), or the sleeper's final re-check
// sees the work (and it does not sleep). Without the fences each side could
// read a stale value from before the other's store (store buffering).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "spinlock.hpp"

namespace weft::detail {

class idle_set {
 public:
  /// `wake(index)` unparks worker `index` (stores 0 to its word, futex wake).
  using wake_fn = void (*)(void* context, unsigned index) noexcept;
  idle_set(unsigned workers, wake_fn wake, void* context);

  /// After work was published: wake one sleeper if nobody is searching. Any thread.
  void notify_work_available() noexcept;

  /// A worker wants to search. False if enough are searching already (at
  /// most half of the workers not asleep, as in Go: more spinners only burn
  /// CPU); then it should sleep.
  bool try_begin_search() noexcept;
  /// A searcher found work (or gives up: `found` false). If it was the last
  /// searcher and found work, there may be more: wake another.
  void end_search(bool found) noexcept;

  /// The calling worker is going to sleep: listed as a sleeper. Must be
  /// followed by a seq_cst fence and a final re-check of all work sources.
  void add_sleeper(unsigned index);
  /// Un-lists a sleeper that found work in its re-check or timed out. False
  /// if a notifier already popped it: then it was counted as a searcher and
  /// its word will be set to 0.
  bool remove_sleeper(unsigned index) noexcept;

  [[nodiscard]] std::uint32_t sleeping() const noexcept {
    return sleeping_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint32_t searching() const noexcept {
    return searching_.load(std::memory_order_relaxed);
  }

 private:
  const unsigned workers_;
  const wake_fn wake_;
  void* const wake_context_;
  std::atomic<std::uint32_t> searching_{0};
  std::atomic<std::uint32_t> sleeping_{0};  // == sleepers_.size(), readable without the lock
  spinlock lock_;
  std::vector<unsigned>
      sleepers_;  // guarded by lock_; LIFO: the last to sleep has the warmest cache
};

}  // namespace weft::detail
