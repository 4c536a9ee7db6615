// Inline joins. See inline_join.hpp.
#include "scheduler/inline_join.hpp"

#include <cstddef>
#include <stdexcept>

#include "diagnostics/trace_recorder.hpp"
#include "fiber/fiber.hpp"
#include "scheduler/runtime_core.hpp"
#include "scheduler/worker.hpp"
#include "weft/join_handle.hpp"

namespace weft::detail {

namespace {

// Stack the inline run's own frames (this function, the task's run())
// take beyond the child's stack size. Generous: sanitizers enlarge frames.
constexpr std::ptrdiff_t inline_frames_margin = 4096;

std::ptrdiff_t requested_stack(const fiber& f) noexcept {
  return static_cast<std::ptrdiff_t>(f.stack_request != 0 ? f.stack_request
                                                          : f.core.stacks.default_size());
}

}  // namespace

inline worker::spawn_claim worker::claim_unstarted(fiber& f) noexcept {
  fiber* const entry = as_spawn_entry(&f);
  const bool thieves = has_thieves();
  // Where the entry was pushed (an entry keeps its index, take_at() leaves
  // holes), as a distance from the bottom; modulo 2^32, so an entry already
  // popped gives a huge one, which peek_at() finds out of range.
  const std::uint32_t depth = static_cast<std::uint32_t>(owner_.next_index() - 1) - f.spawn_slot;
  const auto seen = owner_.peek_at(depth);
  if (seen && *seen == entry) {
    // Take the entry out: pop() at the bottom (fib: the child spawned
    // last), else take_at(), which leaves a hole (skynet joins its ten
    // children oldest first); each one handshake with the thieves at most,
    // no RMW, and the record keeps no tombstone.
    const claim_policy claims = own_claims();
    if (depth == 0) return owner_.pop(claims) ? spawn_claim::removed : spawn_claim::none;
    if (owner_.take_at(depth, claims)) {
      ++holes_;
      return spawn_claim::removed;
    }
  }
  // Within a thief's reach, or in a thief's hands: race it (accept_entry).
  // Without other workers there is no thief: a store does.
  if (!thieves) {
    f.start_claimed.store(true, std::memory_order_relaxed);
  } else if (f.start_claimed.exchange(true, std::memory_order_acq_rel)) {
    return spawn_claim::none;
  }
  return spawn_claim::tombstoned;
}

namespace {

// If `child` can run inline on `joiner`'s stack (inline_join.hpp), runs it
// to its end and returns true; else returns false and the caller joins as
// usual. `joiner` is the calling fiber, running on `here` (a worker of
// child's runtime or not).
bool run_inline_if_unstarted(worker& here, fiber& joiner, fiber& child) noexcept {
  // Relaxed: claims are made only on the thread of the worker whose deque
  // received the spawn entry (worker.hpp), and if that worker started the
  // child itself, it wrote `state` on this thread; a thief's start is
  // caught by the exchange in claim_unstarted.
  //
  // While a trace records, children run as fibers of their own, so that
  // each run is a slice of its own on its worker's track (the trace hooks
  // here cost the untraced fork-join path 3%: skynet, one worker).
  if (&child.core != &here.core() || child.spawn_worker != here.index() ||
      child.state.load(std::memory_order_relaxed) != run_state::created || tracing::on()) {
    return false;
  }
  const auto* frame = static_cast<const std::byte*>(__builtin_frame_address(0));
  if (frame - joiner.stack.bottom < requested_stack(child) + inline_frames_margin) return false;
  const worker::spawn_claim claim = here.claim_unstarted(child);
  if (claim == worker::spawn_claim::none) return false;

  // The child extends the joiner's stack: a switch that resumes it after a
  // park resumes that stack, and an overflow hits that stack's guard.
  child.stack = joiner.stack;
  child.tsan_fiber = joiner.tsan_fiber;
  child.inline_host = &joiner;
  child.inline_top = reinterpret_cast<std::uintptr_t>(frame);
  // The joiner stays `running` (its stack runs the child, so a stack dump
  // leaves it alone and never unwinds its stale context), with a wait
  // reason, which runtime::fibers() reports as parked in the join. Not
  // stamped: a clock read was 4% of a fork-join run (skynet, one worker);
  // the first reader stamps it.
  joiner.hosts_inline_child.store(true, std::memory_order_relaxed);
  set_wait_reason_unstamped(joiner, wait_kind::join, &child);
  set_state(child, run_state::created, run_state::running);
  here.set_running(&child);
  // A new fiber has caught nothing, even when its joiner joins inside a
  // catch block (fiber_entry); the joiner's caught exceptions come back
  // after. Usually the joiner has none, and a child that returned has none
  // left either (every catch block it entered has ended): nothing to move.
  const exception_state joiners_exceptions = here.exceptions();
  const bool joiner_caught_something = !joiners_exceptions.empty();
  if (joiner_caught_something) [[unlikely]]
    here.exceptions() = exception_state{};

  begin_inline_guest(joiner, child);
  run_body(child);
  end_inline_guest(joiner);

  // The child may have parked and been resumed on another worker.
  worker* const now = worker::current();
  if (joiner_caught_something) [[unlikely]]
    now->exceptions() = joiners_exceptions;
  worker_counters::bump(now->counters().completed);  // before join() can return
  child.stack = fiber_stack{};
  child.tsan_fiber = nullptr;
  child.inline_host = nullptr;  // inline_top may stay: it is read only while inline_host is set
  set_state(child, run_state::running, run_state::done);
  // A plain store: no joiner registered (the joiner is here) and no handle
  // detaches (it is the joiner's). release: pairs with join_fiber()'s and
  // done()'s acquire loads.
  child.join_bits.store(finished, std::memory_order_release);
  now->set_running(&joiner);
  clear_wait_reason(joiner);
  joiner.hosts_inline_child.store(false, std::memory_order_relaxed);
  const bool unlinked = child.core.registry.remove(child, now->index());
  // A removed entry's reference is ours to drop. Once unlinked, the record
  // is out of reach of new references (a stack dump takes one only from a
  // linked fiber: registry.hpp), so if the count is 2 it is the handle's,
  // which the joiner holds (join() drops it), and ours: a plain store. A
  // dump's reference still held, or the registry's (the child ended on
  // another worker), may be dropped concurrently: an RMW then.
  // A tombstone's reference is dropped by whoever takes it.
  if (claim == worker::spawn_claim::removed) {
    // acquire: as release_reference's load, it sees every earlier release.
    if (unlinked && child.refs.load(std::memory_order_acquire) == 2) {
      child.refs.store(1, std::memory_order_relaxed);
    } else {
      release_reference(child);
    }
  }
  now->drop_claimed_tail();
  return true;
}

}  // namespace

void join_fiber(fiber* target) {
  // acquire: pairs with publish_outcome()'s release; the outcome is visible.
  if (target->join_bits.load(std::memory_order_acquire) & finished) return;
  worker* const here = worker::current();
  fiber* const self = here ? here->running() : nullptr;
  if (self == nullptr) return block_until_joined(target);
  if (self == target) {
    throw std::logic_error("weft::join_handle::join: a fiber cannot join itself");
  }
  // It would wait (or run the child in its place): a cancellation point.
  if (cancellation_pending(*self)) throw_cancelled();
  if (!run_inline_if_unstarted(*here, *self, *target)) park_until_joined(*self, target);
}

}  // namespace weft::detail
