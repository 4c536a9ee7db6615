// steal_gate: thieves take a licence before they steal, so that a deque's owner skips Chase-Lev's
// fence while no other worker steals.
//
// Why. A Chase-Lev owner claim (pop, take_at, drop_newest_while: local_queue.hpp) publishes its
// new bottom, then reads top; a thief reads top, then bottom. Each side needs a store->load fence
// between its two accesses, or both may miss the other's update and take the same element. On
// x86 the owner's fence is a locked instruction on every claim, and with two workers it is the
// one cost a one-worker run does not pay: about 16% of the samples of skynet at 2 workers; a build
// without it ran skynet 3.5% and fib 30 11% faster. Yet steals are rare in such work: 20 to 40 in
// skynet's 1.1 million fibers, about 10 in fib 30's 1.6 million. The fence is paid a hundred
// thousand times for each time it matters.
//
// How. The gate moves the cost to the rare side with an asymmetric fence (heavy_fence(),
// platform/asymmetric_fence.hpp: membarrier, a full barrier on every CPU that runs a thread of
// this process, and before any thread of it that is not running runs again).
//  * A thief takes a licence before its first steal: `licences` + 1 (seq_cst RMW), then a heavy
//    fence. It then steals with the unchanged Chase-Lev steal for as long as it holds the
//    licence. It returns it (`licences` - 1, release) only after its worker made many claims on
//    its own deque since its last steal attempt (worker.hpp, licence_hold_claims), so a worker
//    that searches often keeps it and the heavy fences stay rare.
//  * An owner's claim stores its new bottom (S), then, with only a compiler barrier between,
//    loads `licences` (C): if another party holds a licence it fences and reads top, as plain
//    Chase-Lev; if not, it reads top without the fence. (A first look at `licences` before S
//    sends a claim that already sees another licence straight to the plain handshake.)
//
// Why that is enough. Take a licence: its increment L, its heavy fence H, and an owner claim that
// found no licence at C. H puts a full barrier at some instruction boundary X of the owner's
// thread, and L is visible to all before X (the system call is itself a full barrier).
//  * If C came after X, it would have seen L: so C came before X, and S (before C in program
//    order) too. X drains S: every steal of this licence, all made after H returned, reads the
//    claim's bottom or a later one. Such a thief only ever takes an index below the bottom it
//    read, so it cannot reach the claimed index b, except at top == b, where both sides race
//    with the same CAS on top. The owner's read of top may be stale (lower), which only sends it
//    to that CAS when it need not; it never lets it skip the CAS when top == b, since a stale
//    top is never higher than the real one.
//  * A licence returned before C: the thief's steals come before its release decrement, which C
//    reads with acquire, so the owner's read of top sees their CASes, as after a fence.
// Each licence makes this argument on its own, so any number of thieves may hold one. A claim
// that sees a licence (its own excepted: a worker never steals from itself) fences as usual.
//
// The C++ memory model has no asymmetric fence; the argument rests on membarrier's documented
// guarantee, as liburcu's and the JVM's and .NET's process-wide barriers do. Without membarrier
// (a kernel older than 4.14, or a sandbox that forbids it), or with WEFT_STEAL_GATE=0, the gate
// holds a permanent licence of its own: every claim fences, as before.
#pragma once

#include <atomic>
#include <cstdint>

#include "scheduler/local_queue.hpp"

namespace weft::detail {

class steal_gate {
 public:
  /// `asymmetric` false, or no membarrier here: every claim fences (a permanent licence).
  explicit steal_gate(bool asymmetric) noexcept;
  steal_gate(const steal_gate&) = delete;
  steal_gate& operator=(const steal_gate&) = delete;

  /// Thief: before its first steal; steals only while it holds the licence.
  void take_licence() noexcept;
  /// Thief: done stealing for a while; takes a licence again before its next steal.
  void return_licence() noexcept {
    // Release: pairs with the acquire load in claim_from (local_queue.hpp); the steals made
    // under this licence are visible to a claim that reads the decrement.
    licences_.fetch_sub(1, std::memory_order_release);
  }
  /// Owner: the policy of its claims; `holds_licence`: the owner itself holds one.
  [[nodiscard]] claim_policy owner_claims(bool holds_licence) const noexcept {
    if (!asymmetric_) return true;  // plain Chase-Lev
    return claim_policy::gated(licences_, holds_licence);
  }
  /// Whether claims skip the fence while no licence is out (false: the permanent licence).
  [[nodiscard]] bool asymmetric() const noexcept { return asymmetric_; }

 private:
  const bool asymmetric_;
  // Licences out, the permanent one included. On a line of its own: every claim reads it, and
  // only a thief that starts or stops stealing writes it.
  alignas(64) std::atomic<std::uint32_t> licences_;
};

/// Whether a runtime's steal gate uses the asymmetric fence: the environment variable
/// WEFT_STEAL_GATE, 1 (the default) or 0 (every claim fences, the plain Chase-Lev deque); any
/// other value throws std::invalid_argument naming it.
bool steal_gate_wanted();

}  // namespace weft::detail
