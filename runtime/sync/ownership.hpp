// ownership: who holds a mutex, recorded as an address on the holder's stack.
//
// Deadlock reports and the relock check need each mutex's holder. Looking
// the current fiber up on every lock is a call into the scheduler (a
// thread-local load that must not be cached across switches: a fiber may
// migrate), about as expensive as the uncontended lock itself. An address
// on the locking frame's stack names the holder as well and costs nothing
// to get: every fiber has a stack of its own (an inline child borrows its
// joiner's, below the joiner's frames), and so does every plain thread.
// The lock paths store it (relaxed: it is read only by the relock check on
// the stack it names, ordered by that thread's own program order, and by
// diagnostics, which read a snapshot), and unlock stores 0 before it
// releases the lock.
//
// Who reads it:
//  - the relock check (holder_on_current_stack): a lock that finds the
//    mutex taken, by an address on the caller's own stack, would wait for
//    itself; it throws resource_deadlock_would_occur instead. A stale value
//    cannot name the caller's stack: the caller's own last store is 0 or
//    newer, and a stack inherited from a fiber that ended was handed over
//    after that fiber's unlock stored 0.
//  - diagnostics (fiber_dump.cpp) map the address to the fiber whose stack
//    holds it, for blocked_by and the wait-for graph.
#pragma once

#include <cstdint>

namespace weft::detail {

/// An address in the calling function's frame (the caller's, once inlined).
[[gnu::always_inline]] inline std::uintptr_t stack_marker() noexcept {
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

/// Whether `address` lies on the stack the caller runs on: the current
/// fiber's (an inline child's is its joiner's), or the plain thread's.
bool on_current_stack(std::uintptr_t address) noexcept;

}  // namespace weft::detail
