// trace_recorder: the scheduler's hooks for weft::trace, and the buffers
// they fill.
//
// Off, a hook is one relaxed load of a global flag (a line every thread
// only reads) and a branch. On, each event goes to the calling thread's own
// buffer: a vector behind a spinlock that only its thread takes while
// recording (uncontended), and stop() takes once to collect it. Buffers
// belong to a process-wide list, so a thread that ended still has its
// events written.
//
// Run slices: run_begin/run_end, called by the worker that switches a fiber
// in and out (and around an inline run, where the child takes over its
// joiner's stack without a switch), make one complete ("X") event per run.
// Flow arrows: woken() and spawned() give the fiber a flow id, emitted as
// the arrow's start on the waker's track; the fiber's next run_begin
// emits its end.
#pragma once

#include <atomic>
#include <cstdint>

#include "weft/fiber_info.hpp"

namespace weft::detail {

struct fiber;

namespace tracing {

/// Set while a trace records. Read relaxed by every hook.
extern std::atomic<bool> recording;

[[gnu::always_inline]] inline bool on() noexcept {
  return recording.load(std::memory_order_relaxed);
}

/// `f` starts (or resumes) running on the calling worker, number `worker`.
void run_begin(fiber& f, unsigned worker) noexcept;
/// `f` stops running on the calling worker (it switches away or ends).
void run_end(const fiber& f) noexcept;
/// `child` was spawned, by `parent` (nullptr: from a plain thread).
void spawned(fiber& child) noexcept;
/// The running fiber `f` parks for `why`.
void parked(const fiber& f, wait_kind why) noexcept;
/// `f` was made ready by the calling thread.
void woken(fiber& f) noexcept;
/// The calling worker took `f` from worker `victim`'s queue.
void stolen(const fiber& f, unsigned victim) noexcept;

}  // namespace tracing

}  // namespace weft::detail
