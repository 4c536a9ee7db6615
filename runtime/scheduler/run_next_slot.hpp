// run_next_slot: a worker's run-next slot (worker.hpp), which its owner fills
// and empties without a locked instruction, and which the watcher (idle.hpp)
// may empty when the owner leaves a fiber stranded in it.
//
// Who touches the slot. The owner, on every wake it places (swap(f)) and on
// every scheduling decision that takes it (swap(nullptr)): two of the five
// locked instructions each message of a ping-pong between two fibers cost
// when these were exchanges (pingpong, 2 workers: 140 ns, 109 without). The
// watcher, rarely: it takes a fiber whose owner made no scheduling decision
// for a whole watch period (tens of microseconds or more). Sleepers only read.
//
// The handshake (an asymmetric Dekker, platform/asymmetric_fence.hpp). The
// owner's swap is a load and a store, which a watcher's CAS between them
// would break (both would own the fiber). So the two sides announce
// themselves and then look for the other:
//   owner:   version_ = odd ; compiler barrier ; thieves_ == 0 ? plain load
//            and store : exchange ; version_ = even (release)
//   watcher: reads version_ (even) and the slot ; thieves_ += 1 ;
//            heavy_fence() ; version_ unchanged ? CAS the slot : give up ;
//            thieves_ -= 1 (release)
// heavy_fence() puts a full barrier on the owner's CPU at some point of its
// execution. An owner swap whose odd store comes before that point is seen
// by the watcher's second read of version_ (the watcher gives up: the owner
// is not stuck anyway); one whose odd store comes after it reads thieves_
// after it too, sees the watcher, and uses an exchange, which the CAS is
// ordered against. A swap completed before the watcher's first read changed
// version_ to the even value the watcher read, and the acquire on that read
// makes the swap's store visible to the CAS. An owner that reads thieves_
// back at 0 after a watcher (acquire, against its release decrement) sees
// the watcher's CAS before its plain load. Several watchers at once count
// (an RMW each: the watcher's path is rare).
//
// Without membarrier (Linux before 4.14, or a seccomp filter) the owner
// always exchanges, seq_cst, and the watcher needs no heavy fence.
//
// Sleepers. A plain store to the slot no longer orders itself before the
// placement's later load of the idle state (idle.hpp, "The run-next watch"),
// so a sleeper's read of the slots after its RMW on that state may miss a
// fiber just placed. worker.cpp says where that is harmless and where a
// heavy_fence() restores the order (leave_watch).
#pragma once

#include <atomic>
#include <cstdint>

#include "platform/asymmetric_fence.hpp"

namespace weft::detail {

struct fiber;

class run_next_slot {
 public:
  run_next_slot() noexcept : plain_(asymmetric_fence_available()) {}
  run_next_slot(const run_next_slot&) = delete;
  run_next_slot& operator=(const run_next_slot&) = delete;

  /// Owner only: puts `in` in the slot (nullptr empties it) and returns the
  /// fiber that was there.
  fiber* swap(fiber* in) noexcept {
    if (!plain_) return slot_.exchange(in, std::memory_order_seq_cst);
    const std::uint32_t version = version_.load(std::memory_order_relaxed);
    version_.store(version + 1, std::memory_order_relaxed);
    // The odd store before the load of thieves_: the compiler's half of the
    // handshake (heavy_fence() is the hardware's).
    std::atomic_signal_fence(std::memory_order_seq_cst);
    fiber* out;
    // acquire: pairs with a watcher's release decrement; its CAS is visible.
    if (thieves_.load(std::memory_order_acquire) != 0) [[unlikely]] {
      out = slot_.exchange(in, std::memory_order_acq_rel);
    } else {
      out = slot_.load(std::memory_order_relaxed);
      // release: the fiber's state, written by its waker, is visible to a
      // watcher that takes it (acquire load, CAS).
      slot_.store(in, std::memory_order_release);
    }
    // release: pairs with the watcher's acquire read of an even version.
    version_.store(version + 2, std::memory_order_release);
    return out;
  }

  /// Any thread: whether a fiber is in the slot (a snapshot; the owner sees
  /// its own writes). seq_cst for the sleeper's side of idle.hpp's protocol
  /// when the owner exchanges; a plain load on x86 either way.
  [[nodiscard]] bool occupied() const noexcept {
    return slot_.load(std::memory_order_seq_cst) != nullptr;
  }

  /// What a watcher saw: the fiber, and the owner's version at that time.
  struct sighting {
    fiber* f;
    std::uint32_t version;
  };
  /// Watcher: the slot now.
  [[nodiscard]] sighting look() const noexcept {
    // acquire (both): the version first, then the slot: a swap whose store
    // we read made its odd version visible to our later re-read.
    const std::uint32_t version = version_.load(std::memory_order_acquire);
    return {slot_.load(std::memory_order_acquire), version};
  }
  /// Watcher: takes `seen.f` if the owner has not touched the slot since
  /// `seen` (and is not touching it now). True if the caller owns the fiber.
  bool steal(sighting seen) noexcept {
    if (seen.f == nullptr || seen.version % 2 != 0) return false;
    // seq_cst RMW: the announcement heavy_fence() publishes.
    thieves_.fetch_add(1, std::memory_order_seq_cst);
    if (plain_) heavy_fence();
    fiber* expected = seen.f;
    // acq_rel: pairs with the owner's release store (or exchange) that put
    // the fiber there; exactly one of the CAS and an owner exchange wins.
    const bool won = version_.load(std::memory_order_acquire) == seen.version &&
                     slot_.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
    // release: an owner that reads 0 here sees the CAS (see the top).
    thieves_.fetch_sub(1, std::memory_order_release);
    return won;
  }

  /// Whether the owner swaps with plain accesses (membarrier is available).
  [[nodiscard]] bool plain() const noexcept { return plain_; }

 private:
  std::atomic<fiber*> slot_{nullptr};
  std::atomic<std::uint32_t> version_{0};  // owner writes; odd while it swaps
  std::atomic<std::uint32_t> thieves_{0};  // watchers between announcing and their CAS
  const bool plain_;
};

}  // namespace weft::detail
