// fiber: the scheduler's record of one fiber, its life-cycle states, the
// join protocol and its lifetime.
//
// Life cycle (every transition goes through set_state, which checks the
// `from` state when WEFT_DEBUG_CHECKS is on):
//
//   created --first run--> running --park--> parked --make_ready--> ready
//                            ^  |                                     |
//                            |  +--yield--> ready                     |
//                            +-------------resume---------------------+
//                          running --body returned--> done
//
// Memory: one allocation holds the record and, behind it, the task (the
// callable and its outcome). Two references keep it alive: the join handle's
// and the fiber's own; the fiber's is dropped by the context that runs after
// the fiber's last switch, once nothing will touch its stack again.
//
// Join protocol (join_bits, one atomic word):
//   finished  set by the finishing fiber after the outcome is stored
//   joiner    set by a joiner after it stored `joiner`
//   detached  set when the handle goes away without a join
// Whoever sets the second of {finished, joiner} wakes (finisher) or does not
// wait (joiner); whoever sets the second of {finished, detached} reports an
// escaped exception. Both sides use acq_rel RMWs on the one word, so the
// outcome and `joiner` written before are visible to the other side.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "fiber/cancellation.hpp"
#include "fiber/context.hpp"
#include "fiber/stack_pool.hpp"
#include "weft/detail/task.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

struct waiter;

/// fiber::spawn_worker of a fiber that is in no worker's deque.
inline constexpr std::uint32_t no_worker = ~std::uint32_t{0};

/// Scheduler states of a fiber.
enum class run_state : std::uint8_t { created, ready, running, parked, done };

/// Bits of fiber::join_bits.
enum join_bit : std::uint32_t { finished = 1, has_joiner = 2, detached = 4 };

struct fiber {
  /// `given_name`: nullptr or empty for an unnamed fiber (the usual case,
  /// which allocates nothing for it).
  fiber(runtime_core& owner, std::uint64_t fiber_id, const std::string* given_name,
        std::size_t requested_stack)
      : core(owner),
        id(fiber_id),
        stack_request(requested_stack),
        name_storage(given_name && !given_name->empty()
                         ? std::make_unique<const std::string>(*given_name)
                         : nullptr) {}
  /// A fiber with the runtime's default stack and no name: nothing to copy,
  /// so nothing can throw (spawn() without options).
  fiber(runtime_core& owner, std::uint64_t fiber_id) noexcept
      : core(owner), id(fiber_id), stack_request(0) {}

  /// The name given at spawn; empty if none.
  [[nodiscard]] std::string_view name() const noexcept {
    return name_storage ? std::string_view(*name_storage) : std::string_view();
  }
  /// The same, NUL-terminated (for the stack-overflow report, which cannot
  /// build strings).
  [[nodiscard]] const char* name_c_str() const noexcept {
    return name_storage ? name_storage->c_str() : "";
  }

  // Fields are grouped by who touches them and when, small ones packed
  // together: every spawn writes the whole record, so padding costs time.

  // ---- scheduling: touched only by the worker running or resuming it
  context_handle context = nullptr;  ///< saved context while switched out; null before first run
  fiber_stack stack;                 ///< attached at first run, released after the last switch
  void* tsan_fiber = nullptr;        ///< ThreadSanitizer's state for this fiber (TSan builds)
  task_base* body = nullptr;
  runtime_core& core;
  fiber* next_in_list = nullptr;  ///< intrusive link: the worker's yield FIFO, or the inject queue
  std::atomic<run_state> state{run_state::created};
  /// Set by an inspector reading this fiber's stack; a worker about to
  /// resume the fiber waits until it is clear again
  /// (diagnostics/fiber_inspection.hpp).
  std::atomic<bool> inspected{false};
  /// Won by whoever starts the fiber from its spawn entry other than by the
  /// deque owner's pop: a thief that stole the entry, or a joiner on the
  /// owner's thread that runs it inline (inline_join.hpp). An entry whose
  /// fiber was claimed is a tombstone: its taker only drops the entry's
  /// reference.
  std::atomic<bool> start_claimed{false};
  bool registered =
      false;  ///< linked in the registry yet (set once, by the spawning or adopting worker)

  // ---- why it waits (read by runtime::fibers() from any thread; relaxed:
  // a snapshot that may be slightly stale is all enumeration promises)
  std::atomic<wait_kind> waiting_on{wait_kind::none};

  // ---- identity (immutable after spawn)
  const std::uint64_t id;
  const std::size_t stack_request;  ///< 0: the runtime's default
  /// The name, out of line: most fibers have none, and an inline
  /// std::string would make every record 24 bytes longer and every spawn
  /// construct and destroy one.
  const std::unique_ptr<const std::string> name_storage;

  /// The worker that runs it or ran it last (written at each resume).
  std::atomic<std::uint32_t> last_worker{0};
  /// The worker whose deque holds this fiber's spawn entry; no_worker when it
  /// was spawned from outside. Written before the push that publishes it.
  std::uint32_t spawn_worker = no_worker;
  std::atomic<const void*> wait_object{nullptr};
  /// When the wait began (steady clock, ns); 0: not stamped yet, which an
  /// inline join leaves (inline_join.hpp) and the first reader fills in
  /// (fiber_registry::describe), so mutable.
  mutable std::atomic<std::int64_t> wait_since_ns{0};
  /// The trace's flow arrow from the wake or spawn that made it runnable to
  /// its next run; 0 if none (diagnostics/trace_recorder.hpp). Written by the
  /// waker before it queues the fiber, read by the worker that takes it.
  std::uint64_t trace_flow = 0;

  // ---- inline joins (inline_join.hpp)
  /// The fiber whose join() runs this one on its own stack; nullptr unless
  /// it runs inline. Read by the stack-overflow report.
  const fiber* inline_host = nullptr;
  /// While it runs inline (inline_host set): the top of its part of the
  /// host's stack (the host's frames lie above). Read by diagnostics to tell
  /// which of the fibers sharing a stack a held mutex's stack address names.
  std::uintptr_t inline_top = 0;

  // ---- join protocol and lifetime
  std::atomic<std::uint32_t> join_bits{0};
  /// The join handle's and the fiber's own (held by its spawn entry until a
  /// worker takes that, then by the worker that runs it until it retires).
  std::atomic<std::uint32_t> refs{2};
  waiter* joiner = nullptr;            ///< valid once has_joiner is set
  std::uint32_t allocation_class = 0;  ///< block_class() of the record+task block (block_cache)
  std::uint32_t allocation_align = 0;  ///< its alignment

  // ---- cancellation (cancellation.hpp)
  /// The wait an interrupter may claim; null while running or shielded.
  std::atomic<cancel_hook*> cancellable_wait{nullptr};
  /// The child running inline on this fiber's stack, if any: an interrupter
  /// finding no wait here passes on to it (cancellation.hpp, "Inline children").
  std::atomic<fiber*> inline_guest{nullptr};
  cancel_frame cancel;  ///< the fiber's own thread only
  /// Interrupters that may be using `cancellable_wait`'s hook.
  std::atomic<std::uint16_t> interrupters{0};
  std::atomic<bool> cancel_requested{false};  ///< set once, by cancel_fiber
  /// Set (seq_cst) once `stop` holds a stop state, which is never replaced.
  std::atomic<bool> has_stop_source{false};
  /// Set while a child runs inline on this fiber's stack (inline_join.hpp):
  /// runtime::fibers() then shows it parked in the join although its state
  /// stays `running`. Relaxed: a snapshot's hint, written by its own thread.
  /// (Here, in a hole of the cancellation group: the record stays 256 bytes.)
  std::atomic<bool> hosts_inline_child{false};
  std::stop_source stop{std::nostopstate};  ///< made on first get_stop_token()

  // ---- live-fiber registry (registry.hpp: its shard's owner, or an inspector)
  fiber* registry_prev = nullptr;
  fiber* registry_next = nullptr;
  fiber* ended_next = nullptr;  ///< link in the shard's stack of fibers that ended elsewhere
  std::uint32_t registry_shard = 0;

  // ---- spawn entry (worker.hpp, "Spawn entries")
  /// The low 32 bits of the deque index its spawn entry was pushed at, on
  /// the worker `spawn_worker`: a joiner there finds the entry without a
  /// search (an entry keeps its index). Written before the push.
  std::uint32_t spawn_slot = 0;
};

[[gnu::always_inline]] inline bool cancellation_pending(const fiber& f) noexcept {
  // relaxed: as in cancellation_pending_slow (the handshake's fences order it).
  const bool possible = f.cancel_requested.load(std::memory_order_relaxed) ||
                        f.cancel.innermost != nullptr || f.cancel.enclosing != nullptr;
  return possible && cancellation_pending_slow(f);
}

inline bool publish_cancellable_wait(fiber& f, cancel_hook& hook) noexcept {
  if (f.cancel.shields != 0 || f.cancel.enclosing != nullptr) [[unlikely]]
    return publish_cancellable_wait_slow(f, hook);
  // release: pairs with the interrupter's acquire load of the hook.
  f.cancellable_wait.store(&hook, std::memory_order_release);
  fiber_side_fence();
  if (!cancellation_pending(f)) [[likely]]
    return true;
  return !hook.claim(&hook);
}

inline void withdraw_cancellable_wait(fiber& f, cancel_hook& hook) noexcept {
  // acquire: pairs with settle(); the commit no longer touches the wait.
  if (!hook.settled.load(std::memory_order_acquire)) [[unlikely]]
    wait_settled(hook);
  if (f.cancellable_wait.load(std::memory_order_relaxed) == nullptr) return;  // shielded
  f.cancellable_wait.store(nullptr, std::memory_order_relaxed);
  fiber_side_fence();
  // acquire: pairs with the interrupter's release decrement.
  if (f.interrupters.load(std::memory_order_acquire) != 0) [[unlikely]]
    wait_out_interrupters(f);
}

/// begin_inline_guest's publication, once the host is known not shielded.
[[gnu::always_inline]] inline void publish_inline_guest(fiber& host, fiber& child) noexcept {
  // release: pairs with interrupt()'s acquire; the child's record is ready.
  host.inline_guest.store(&child, std::memory_order_release);
  fiber_side_fence();
  // An interrupter that came before the store did not see the guest.
  if (cancellation_pending(host)) [[unlikely]]
    cancel_fiber(child);
}

inline void begin_inline_guest(fiber& host, fiber& child) noexcept {
  if (host.cancel.shields != 0 || host.cancel.enclosing != nullptr) [[unlikely]] {
    begin_inline_guest_slow(host, child);
    return;
  }
  publish_inline_guest(host, child);
}

[[gnu::always_inline]] inline void end_inline_guest(fiber& host) noexcept {
  if (host.inline_guest.load(std::memory_order_relaxed) == nullptr) return;  // shielded
  host.inline_guest.store(nullptr, std::memory_order_relaxed);
  fiber_side_fence();
  // acquire: pairs with the interrupter's release decrement.
  if (host.interrupters.load(std::memory_order_acquire) != 0) [[unlikely]]
    wait_out_interrupters(host);
}

[[gnu::always_inline]] inline void run_body(fiber& f) noexcept {
  if (f.cancel_requested.load(std::memory_order_relaxed)) [[unlikely]] {
    store_cancelled_outcome(f);
    return;
  }
  f.body->run();
}

/// Prints "weft: fiber <id>: bad state transition ..." and aborts.
[[noreturn]] void report_bad_transition(const fiber& f, run_state actual, run_state from,
                                        run_state to) noexcept;

/// Moves `f` to `to`; with WEFT_DEBUG_CHECKS, aborts with a message unless
/// it was in `from`. The store is release: runtime::fibers() reads it with
/// acquire, and worker::take_injected relies on it to publish a fiber passed
/// through the inject queue (see there).
inline void set_state(fiber& f, run_state from, run_state to) noexcept {
#ifdef WEFT_DEBUG_CHECKS
  const run_state actual = f.state.load(std::memory_order_relaxed);
  if (actual != from) report_bad_transition(f, actual, from, to);
#else
  (void)from;
#endif
  f.state.store(to, std::memory_order_release);
}

/// Records what the fiber is about to wait on (for wait_kind::join,
/// `object` is the joined fiber's record), stamped with the time.
void set_wait_reason(fiber& f, wait_kind kind, const void* object) noexcept;
/// The same without reading the clock: the wait is stamped when it is
/// first observed (an inline join, which mostly lasts less than a clock
/// read costs to matter, and whose child's own waits carry their times).
void set_wait_reason_unstamped(fiber& f, wait_kind kind, const void* object) noexcept;
/// Inline: every park ends with it (two stores).
inline void clear_wait_reason(fiber& f) noexcept {
  f.waiting_on.store(wait_kind::none, std::memory_order_relaxed);
  f.wait_object.store(nullptr, std::memory_order_relaxed);
}

/// Called by the finishing fiber after its body returned: publishes the
/// outcome, wakes the joiner, reports an exception of a detached fiber.
void publish_outcome(fiber& f) noexcept;

/// Drops one reference; frees the record and task with the last.
void release_reference(fiber& f) noexcept;

/// Prints "weft: fiber <id> "<name>" ..." and the exception, then terminates.
[[noreturn]] void report_escaped_exception(const fiber& f) noexcept;

/// Steady-clock nanoseconds, the time base of timers and wait reasons.
std::int64_t steady_now_ns() noexcept;

}  // namespace weft::detail
