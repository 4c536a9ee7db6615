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
/// runtime's own frames at either end. The innermost pc is a return address
/// (a switched-out context) unless `interrupted` (a thread stopped by a
/// signal: its pc is the instruction it was about to run).
std::vector<stack_frame> symbolize_frames(const std::vector<std::uintptr_t>& pcs,
                                          stack_unwinder& unwinder, bool interrupted);

/// How a dump names a wait ("mutex", "channel receive", ...).
const char* wait_kind_name(wait_kind kind) noexcept;

/// Writes one frame as a dump line: "    #<n> function at file:line [address]".
void write_frame(std::ostream& out, std::size_t number, const stack_frame& frame);

/// Writes a deadlock report: the cycle's fibers with their waits and stacks.
void write_deadlock(std::ostream& out, const runtime_core& core, const deadlock& d);

/// Lists `core` for dump_all (at the end of its construction) and unlists
/// it (after its workers are joined; waits for a dump in progress).
void list_runtime(runtime_core& core);
void unlist_runtime(runtime_core& core) noexcept;

/// The environment variable `name` (WEFT_DEADLOCK_CHECK_MS,
/// WEFT_STALL_WARNING_MS) as milliseconds; 0 if unset. Throws
/// std::invalid_argument naming the variable unless it is a whole number >= 0.
std::chrono::milliseconds milliseconds_from_environment(const char* name);

/// Reads WEFT_DUMP_SIGNAL and WEFT_TRACE once per process (the first
/// runtime calls it). Throws std::invalid_argument naming the variable for
/// an unknown signal, std::runtime_error for a trace file it cannot write.
void apply_diagnostics_environment();

}  // namespace weft::detail
