// weft diagnostics: dumps of every fiber with its stack, on demand or on a
// signal. See docs/diagnostics.md.
#pragma once

#include <csignal>
#include <iosfwd>

#include "weft/fiber_info.hpp"
#include "weft/runtime.hpp"

namespace weft {

/// Writes every live fiber of every runtime in the process, as
/// runtime::dump() does, one runtime after the other. Any thread.
void dump_all(std::ostream& out);

/// From now on, the signal `signo` (SIGQUIT by default, as `kill -QUIT`)
/// makes the process write dump_all() to stderr and keep running. The dump
/// is written by a thread of its own, not in the signal handler. Throws
/// std::invalid_argument for a signal that cannot be caught (SIGKILL,
/// SIGSTOP) or is out of range. The environment variable
/// WEFT_DUMP_SIGNAL=QUIT (or USR1, USR2), read when the first runtime
/// starts, installs it too.
void install_dump_signal(int signo = SIGQUIT);

}  // namespace weft
