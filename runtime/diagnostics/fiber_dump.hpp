// fiber_dump: runtime::fibers(fiber_detail::stacks), runtime::dump,
// dump_all and the dump signal. The process keeps a list of its runtimes
// for dump_all.
#pragma once

namespace weft::detail {

class runtime_core;

/// Lists `core` for dump_all (at the end of its construction) and unlists
/// it (after its workers are joined; waits for a dump in progress).
void list_runtime(runtime_core& core);
void unlist_runtime(runtime_core& core) noexcept;

/// Reads WEFT_DUMP_SIGNAL once per process (the first runtime calls it).
/// Throws std::invalid_argument naming the variable for an unknown signal.
void apply_diagnostics_environment();

}  // namespace weft::detail
