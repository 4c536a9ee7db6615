// fiber_dump: runtime::fibers(fiber_detail::stacks), runtime::dump,
// dump_all and the dump signal. The process keeps a list of its runtimes
// for dump_all.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "weft/fiber_info.hpp"

namespace weft::detail {

class runtime_core;
class stack_unwinder;

/// Names raw frames (innermost first), one per inlined call, without the
/// runtime's own frames at either end.
std::vector<stack_frame> symbolize_frames(const std::vector<std::uintptr_t>& pcs,
                                          stack_unwinder& unwinder);

/// Writes a deadlock report: the cycle's fibers with their waits and stacks.
void write_deadlock(std::ostream& out, const runtime_core& core, const deadlock& d);

/// Lists `core` for dump_all (at the end of its construction) and unlists
/// it (after its workers are joined; waits for a dump in progress).
void list_runtime(runtime_core& core);
void unlist_runtime(runtime_core& core) noexcept;

/// WEFT_DEADLOCK_CHECK_MS (0 if unset). Throws std::invalid_argument naming
/// the variable unless it is a whole number of milliseconds >= 0.
std::chrono::milliseconds deadlock_check_from_environment();

/// Reads WEFT_DUMP_SIGNAL once per process (the first runtime calls it).
/// Throws std::invalid_argument naming the variable for an unknown signal.
void apply_diagnostics_environment();

}  // namespace weft::detail
