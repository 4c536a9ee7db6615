// park: how a fiber stops running until something wakes it, and how a plain
// thread does the same. The base of every waiting operation.
//
// The lost-wakeup window. A fiber that decides to wait must publish itself
// (put itself on a wait list, register as a joiner, arm a timer) so that a
// waker can find it; but a waker that finds it before the fiber has switched
// out would resume a context that is still running, on two threads at once.
// We close the window as Go's gopark does: the fiber does not publish itself.
// It switches away first, and the *next* context, once the parked fiber's
// registers are saved, runs the park's `commit` step, which publishes it
// (typically: release the wait list's lock, or CAS a flag). A waker can only
// see the fiber after commit, so after the switch. If commit finds that the
// wait is already over (the joined fiber finished meanwhile), it returns
// false and the fiber is made ready again at once: never lost, never resumed
// twice.
#pragma once

#include <atomic>
#include <cstdint>

#include "diagnostics/trace_recorder.hpp"
#include "fiber/fiber.hpp"
#include "scheduler/worker.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

/// Runs on the context switched to, after `parked` was switched out.
/// Returns true if the fiber now waits (someone will make_ready it), false to
/// resume it at once.
using park_commit = bool (*)(fiber* parked, void* arg) noexcept;

/// Parks the calling fiber (fiber only): records why, switches away, runs
/// `commit(self, arg)` on the next context, and returns once made ready.
/// May return on another worker thread. Inline: a call level less on every
/// park (its saved registers were 19 instructions a park: pingpong).
inline void park_current(park_commit commit, void* arg, wait_kind why, const void* object) {
  // One look-up of the worker for both uses: nothing switches in between.
  worker* const here = worker::current();
  fiber* self = here->running();
  set_wait_reason(*self, why, object);
  if (tracing::on()) [[unlikely]]
    tracing::parked(*self, why);
  worker::park_current(here, commit, arg);
  clear_wait_reason(*self);  // `self`, not `here`: we may resume on another worker
}

/// Makes a parked fiber runnable (queues it). Any thread, exactly once per park.
void make_ready(fiber* f) noexcept;

/// The calling fiber; nullptr on a plain thread.
fiber* current_fiber() noexcept;

/// Whether the calling worker has another fiber ready to run locally (its
/// run-next slot, deque or woken deque); false off workers. A contended
/// lock spins only when this is false, as Go's sync.Mutex spins only with
/// an empty run queue: with other work ready, parking runs it at once.
bool other_fibers_ready() noexcept;

/// A parked fiber or a blocked plain thread, as seen by whoever will wake it.
/// Lives on the waiting side's stack until it is woken.
struct waiter {
  fiber* parked = nullptr;               ///< nullptr: a plain thread blocked on `signal`
  std::atomic<std::uint32_t> signal{0};  ///< plain thread: 1 once woken
};

/// Wakes a waiter (make_ready, or signals the blocked thread). Any thread.
/// The waiter may be gone as soon as this returns (or even before it returns,
/// for a thread: only the futex address is used after the store).
void wake(waiter& w) noexcept;

/// Blocks the calling plain thread until wake(w).
void block_until_woken(waiter& w) noexcept;

}  // namespace weft::detail
