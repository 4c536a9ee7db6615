// cancellation: how a request to stop reaches a parked fiber.
//
// Sources. A fiber is asked to stop by join_handle::cancel() (the flag
// fiber::cancel_requested, set once, never cleared) or, for the waits of one
// block of code, by a with_timeout scope running out (the scope's
// `expired`). A fiber has a cancellation *pending* when either holds and no
// cancellation_shield is alive on it (cancellation_pending()).
//
// Delivery is a claim. A cancellable wait is a wait whose end is decided by
// one exactly-once claim: a parker's outcome CAS (sync/waiting.hpp) or the
// joiner's registration in join_bits (fiber.hpp). Such a wait publishes a
// cancel_hook, whose `claim` tries to win that same claim for cancellation.
// An interrupter (the canceller, or a scope's timer) that wins it wakes the
// fiber, which then finds its wait claimed by cancellation and throws
// weft::cancelled; one that loses lost to a waker, whose hand-off stands:
// the wait completed, and the cancellation stays pending for the next wait.
// Because the claim is the same one wakers compete for, a cancelled wait
// never also completes: nothing is lost.
//
// The handshake. The fiber publishes its hook in its park commit (after it
// switched out, park.hpp), then checks for a pending cancellation; an
// interrupter sets its flag, then looks for a hook. Each side stores, then
// loads the other side's word; with a fence between them at least one sees
// the other: either the fiber sees the flag (and claims its own wait, then
// resumes at once) or the interrupter sees the hook (and claims). Both may,
// and then the claim decides. The fiber side runs on every park, the other
// almost never, so the fence is asymmetric (platform/asymmetric_fence.hpp):
// a compiler barrier on the fiber's side, membarrier on the interrupter's;
// a full fence on the fiber's side where membarrier is missing.
//
// Lifetime. The hook lives on the parked fiber's stack. A fiber may be woken
// while its park commit still runs (a waker or the timer may claim the wait
// as soon as it is reachable), so the commit's last touch of the wait is
// setting `settled`, which the woken fiber waits for first. Then it
// withdraws the hook (stores null) and waits while `interrupters` is
// non-zero, with the same asymmetric handshake against the interrupter's
// increment-then-load: an interrupter that read the hook is counted, so the
// fiber does not return from the wait (and reuse the hook's memory) until
// that interrupter is done with it.
//
// Inline children. A child that runs inline in its joiner's join()
// (scheduler/inline_join.hpp) runs on the joiner's stack: the joiner cannot
// stop waiting before the child returns. So while it runs inline, a
// cancellation that reaches the joiner (its cancel, or one of its timeouts
// running out) cancels the child: an interrupter that finds the joiner with
// no published wait cancels its `inline_guest`, under the joiner's
// `interrupters` count (which the joiner waits out before it clears
// `inline_guest`, as for a hook). The joiner publishes the guest, then
// checks for a pending cancellation itself (the same handshake as for a
// hook). A shielded joiner publishes no guest. This keeps every check O(1):
// no walk up a chain of hosts, however deep the inline recursion.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>

#include "scheduler/timers.hpp"

namespace weft::detail {

struct fiber;

/// A cancellable wait, as an interrupter sees it (lives on the waiter's stack).
struct cancel_hook {
  /// Tries to win the wait's claim for cancellation. True if this call won:
  /// the caller must then make the fiber ready (unless it is the fiber's own
  /// park commit, which resumes it instead).
  bool (*claim)(cancel_hook* self) noexcept = nullptr;
  /// Set by the park commit as its last access to the wait (release).
  std::atomic<bool> settled{false};
};

/// One with_timeout on a fiber's stack, linked innermost first.
struct timeout_scope {
  timeout_scope* outer = nullptr;
  fiber* owner = nullptr;
  std::atomic<bool> expired{false};
  timer_entry timer;               ///< fires at the deadline; see cancellation.cpp
  timer_heap* armed_on = nullptr;  ///< the heap the timer went to; null if not armed
};

/// The part of a fiber's cancellation state that belongs to the code it runs
/// (its stack): a generator's body keeps its own while suspended, and while
/// it runs, its consumer's frame encloses it (the consumer waits through the
/// body, so the consumer's shields and timeouts cover the body's waits; the
/// body's do not outlive a yield).
struct cancel_frame {
  timeout_scope* innermost = nullptr;
  std::uint32_t shields = 0;
  const cancel_frame* enclosing = nullptr;
};

/// True if the fiber's next wait must throw weft::cancelled. The fiber's own
/// thread (or its park commit). Inline, in fiber.hpp: false at once for a
/// fiber with no request and no timeout scope (the common case).
inline bool cancellation_pending(const fiber& f) noexcept;
/// cancellation_pending's full check: shields, the request, the scopes.
bool cancellation_pending_slow(const fiber& f) noexcept;

/// In a park commit, once the wait is claimable: publishes `hook` as the
/// fiber's wait. Returns false if a cancellation is pending and this call
/// claimed the wait for it: the commit then resumes the fiber at once. A
/// shielded wait publishes nothing.
/// Inline, in fiber.hpp (it runs on every park).
inline bool publish_cancellable_wait(fiber& f, cancel_hook& hook) noexcept;

/// The park commit's last access to the wait, on every path.
inline void settle(cancel_hook& hook) noexcept {
  // release: pairs with withdraw_cancellable_wait's acquire; the commit's
  // accesses to the wait are over before the woken fiber goes on.
  hook.settled.store(true, std::memory_order_release);
}

/// After a parked wait ended: waits for the commit to settle, withdraws the
/// hook and waits out an interrupter that may still be using it. The
/// fiber's own thread.
/// Inline, in fiber.hpp (it runs on every park).
inline void withdraw_cancellable_wait(fiber& f, cancel_hook& hook) noexcept;

// ---- the out-of-line parts of the inline functions above

/// True once membarrier registration succeeded (then the fiber's side of the
/// handshake needs only a compiler barrier). False before it is known: a
/// full fence is always safe.
extern const bool fiber_fence_is_compiler_barrier;
/// The fiber's half of the handshake: orders its store before its load.
[[gnu::always_inline]] inline void fiber_side_fence() noexcept {
  if (fiber_fence_is_compiler_barrier) [[likely]] {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}
/// publish_cancellable_wait for a fiber with shields or an enclosing frame.
bool publish_cancellable_wait_slow(fiber& f, cancel_hook& hook) noexcept;
/// Spins until the commit settled `hook`.
void wait_settled(cancel_hook& hook) noexcept;
/// After the fiber cleared what interrupters read (its hook, its guest):
/// waits until none that may have read it before is still at work.
void wait_out_interrupters(fiber& f) noexcept;

/// Around an inline run of `child` on `host`'s stack (host's own thread).
/// Inline, in fiber.hpp (they run on every inline join).
inline void begin_inline_guest(fiber& host, fiber& child) noexcept;
inline void end_inline_guest(fiber& host) noexcept;
/// begin_inline_guest for a host with shields or an enclosing frame.
void begin_inline_guest_slow(fiber& host, fiber& child) noexcept;

/// Asks `f` to stop: sets cancel_requested, stops its stop token, claims its
/// current wait if it has one. Any thread; the caller holds a reference.
void cancel_fiber(fiber& f) noexcept;

/// Runs the fiber's body, or, if it was cancelled before it started, stores
/// weft::cancelled as its outcome without running it. Inline, in fiber.hpp.
inline void run_body(fiber& f) noexcept;
/// Stores weft::cancelled as the outcome of `f`, which never ran.
void store_cancelled_outcome(fiber& f) noexcept;

/// True if `error` holds a weft::cancelled.
bool is_cancellation(const std::exception_ptr& error) noexcept;

/// Throws weft::cancelled.
[[noreturn]] void throw_cancelled();

}  // namespace weft::detail
