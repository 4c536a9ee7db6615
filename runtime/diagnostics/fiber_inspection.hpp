// fiber_inspection: reading the stacks of switched-out fibers while the
// workers run on, without a lock on any scheduling path.
//
// A parked or ready fiber's stack is frozen only until a worker resumes it.
// The inspector keeps resumers out while it reads, with the asymmetric
// Dekker handshake of platform/asymmetric_fence.hpp:
//   resumer:   state = running (store, in switch_to); compiler barrier;
//              if inspected: wait until it is clear (acquire); switch to it
//   inspector: inspected = true; heavy_fence(); state (acquire load):
//              parked or ready with a saved context → read the stack;
//              inspected = false (release)
// Either the resumer sees `inspected` and waits, or the inspector sees
// `running` and leaves the stack alone: a stack is never read while it
// runs. The resumer pays one load of a line it
// has just written. The inspector pins fibers in batches (one heavy fence per batch), so a resumer
// waits at most for one batch's unwinding, microseconds per fiber.
//
// While a fiber is pinned and parked, the object it waits on is alive too
// (the fiber will touch it when it resumes; destroying a mutex that has
// waiters is the caller's error): the inspection reads a waited mutex's
// holder then.
//
// What is captured: parked and ready fibers that have run (they have a
// saved context). Not: running fibers (their stack moves under us), fibers
// that have not started (no stack yet), and a joiner that runs a child
// inline (it stays `running`, its stack being the child's: the child's dump
// shows both, the child's frames above the joiner's). Without membarrier (Linux < 4.14) no stack is
// captured at all.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

#include "fiber/fiber.hpp"

namespace weft::detail {

class stack_unwinder;

/// Spins until no inspector reads `f`'s stack. The slow path of
/// wait_while_inspected.
void wait_for_inspection_end(const fiber& f) noexcept;

/// The resumer's half (above): after `f` was set running, before switching to it.
inline void wait_while_inspected(const fiber& f) noexcept {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // acquire (a plain load on x86): reading the `false` an inspection's end
  // stored orders that inspection's reads of the stack and the context
  // before this resume and its next save (ThreadSanitizer saw the context
  // read and the next park's write of it as a race with a relaxed load).
  if (f.inspected.load(std::memory_order_acquire)) [[unlikely]] {
    wait_for_inspection_end(f);
  }
}

/// What an inspection read from one fiber while it was pinned; all zero or
/// empty for a fiber that was running (or done) then.
struct pinned_view {
  /// Its stack, [low, high): the only addresses a parked fiber's frames and
  /// held mutexes' markers (sync/ownership.hpp) can lie in.
  std::uintptr_t stack_low = 0;
  std::uintptr_t stack_high = 0;
  /// For a child running inline: the top of its part of that stack.
  std::uintptr_t inline_top = 0;
  /// For a child running inline: the fibers running it, innermost first,
  /// each with the top of its part of the stack. They stay `running` (and
  /// so have no view of their own) but cannot move while the child is
  /// pinned: each waits in a join for the one below.
  std::vector<std::pair<const fiber*, std::uintptr_t>> hosts;
  /// For a wait on a mutex or a shared_mutex: the marker of its holder.
  std::uintptr_t holder = 0;
  /// Raw program counters, innermost first (if asked for, and it has a
  /// saved context: see above).
  std::vector<std::uintptr_t> frames;
};

/// Pins `fibers` (each kept alive by the caller) in batches and reads each
/// one; with an `unwinder`, also its stack.
std::vector<pinned_view> inspect_pinned(const std::vector<fiber*>& fibers,
                                        stack_unwinder* unwinder);

}  // namespace weft::detail
