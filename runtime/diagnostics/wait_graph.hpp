// wait_graph: every fiber with whom it waits for, the cycles in that
// wait-for graph (deadlocks), and the periodic check that reports them.
//
// Edges. A parked fiber waits for one other fiber when its wait has an
// owner: a join (the joined fiber: its record is the wait object, matched
// by address among the fibers listed) and a mutex or an exclusively held
// shared_mutex (the holder: the address on the holder's stack that
// sync/ownership.hpp records, matched to the stack that contains it, and
// among fibers sharing a stack through inline joins, to the innermost part
// that contains it). Channels, condition variables and semaphores have no
// owner and give no edge. With at most one edge out of every fiber, the
// graph's cycles are found by following edges from each fiber once.
//
// Confirmation. A listing is a snapshot taken while fibers run: an edge may
// be stale by the time the next one is read. A cycle is reported only if a
// second listing, taken after the first, shows the same cycle with the same
// waits (same objects, same start times); in a real deadlock nothing moves.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <vector>

#include "diagnostics/periodic_thread.hpp"
#include "weft/fiber_info.hpp"

namespace weft::detail {

class runtime_core;

/// Every live fiber of `core`, blocked_by resolved for joins and mutex
/// waits, and with `stacks` each stack (fiber_dump.cpp trims and names it).
std::vector<fiber_info> list_fibers(const runtime_core& core, bool stacks);

/// The confirmed cycles of `core`'s wait-for graph, each starting at its
/// smallest fiber id, members with their stacks.
std::vector<deadlock> find_deadlocks(const runtime_core& core);

/// options::deadlock_check: a thread that runs find_deadlocks() every
/// `period` and writes each new cycle to stderr once, with the stacks.
class deadlock_watch {
 public:
  deadlock_watch(const runtime_core& core, std::chrono::milliseconds period);

 private:
  void check();

  const runtime_core& core_;
  std::set<std::vector<std::uint64_t>> reported_;  // cycles already written (their waits)
  periodic_thread thread_;                         // last: stopped first
};

}  // namespace weft::detail
