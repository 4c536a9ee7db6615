// inline_join: a joiner runs a child that has not started yet on its own
// stack, as a function call, instead of giving it a stack of its own and
// parking until it ends.
//
// The common case of fork-join is a child still in its spawner's deque when
// its joiner reaches join(): nobody stole it. Starting it as a fiber would
// cost a stack, a context to make, two switches and a park/wake pair for a
// body that often runs for less than those. So join() (join_fiber) runs the
// child right there, when all of these hold:
//   - the child was never started, and its spawn entry is in the deque of
//     the worker the joiner runs on (claim_unstarted takes it from there,
//     found at the index it was pushed at: pop() at the bottom, else
//     take_at(), which leaves a hole; one within a thief's reach is claimed
//     and left as a tombstone, worker.hpp "Spawn entries");
//   - the room left on the joiner's stack, below its current frame, is at
//     least the child's own stack size (plus a margin for the frames of the
//     inline run itself): a child never gets less stack than it asked for.
//     Every stack has headroom for this (stack_pool.hpp).
//
// The child stays a full fiber while it runs inline:
//   - identity: it is the worker's running fiber, so this_fiber::get_id(),
//     wait reasons and runtime::fibers() show it as itself; the joiner stays
//     `running` with a wait reason, which runtime::fibers() shows as parked,
//     waiting on join of the child;
//   - parking: the child may park anywhere. Its saved context is then the
//     joiner's stack with both fibers' frames on it, recorded in the child's
//     record (its `stack` and sanitizer fiber are the joiner's, borrowed);
//     whoever resumes the child resumes that stack. The joiner cannot run
//     meanwhile, but it waits for this child in any case, so no program
//     that joins can tell the difference (running some *other* fiber inline
//     could deadlock: that fiber might wait for what the joiner does next);
//   - exceptions: the task stores them as for any fiber; join() rethrows.
//     The child starts with no caught exception, as a new fiber does, and
//     the joiner's come back when it returns;
//   - stack overflow: the guard hit is the joiner's stack's, which the child
//     borrowed; the report names the child and the fiber it runs inline on;
//   - stealing: a thief that stole the entry exchanges the same flag as the
//     joiner's claim, so exactly one of them starts the child.
// An inline run is a plain call: the scheduler is not consulted until the
// child parks or returns, as for any function a fiber calls.
#pragma once

namespace weft::detail {

struct fiber;

// join_fiber() (weft/join_handle.hpp), the join itself, is defined in
// inline_join.cpp, beside the inline run it tries first, so that the
// compiler merges the two even without LTO (skynet: 25 instructions a fiber
// fewer). Its waits, for when the child cannot run inline, are in fiber.cpp
// with the rest of the join protocol:

/// Parks the calling fiber `self` until `target` has finished; throws
/// weft::cancelled if the park was cancelled first.
void park_until_joined(fiber& self, fiber* target);
/// Blocks the calling plain thread until `target` has finished.
void block_until_joined(fiber* target) noexcept;

}  // namespace weft::detail
