// weft-load: the program, as a function (main.cpp only forwards to it, and
// the tests call it in-process).
#pragma once

#include <iosfwd>
#include <span>
#include <string>

namespace weft::load {

/// The exit codes of the contract (shared/api.md).
enum exit_code : int {
  exit_ok = 0,             ///< ran; every --fail-if threshold held
  exit_usage = 1,          ///< bad arguments or URL
  exit_unreachable = 2,    ///< the target could not be reached at all
  exit_threshold = 3,      ///< a --fail-if threshold was crossed
  exit_interrupted = 130,  ///< stopped by Ctrl-C (SIGINT), after the report
};

/// Runs weft-load with `args` (the arguments after the program name):
/// reports go to `out` (or `err` when the JSON report goes to stdout,
/// i.e. `out`), messages and the progress line to `err`. Returns the exit
/// code.
int run_cli(std::span<const std::string> args, std::ostream& out, std::ostream& err);

}  // namespace weft::load
