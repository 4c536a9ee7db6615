// weft::trace: records every runtime's scheduling events into a Chrome
// trace-event JSON file (opens in Perfetto, ui.perfetto.dev, and
// chrome://tracing). See docs/diagnostics.md.
#pragma once

#include <string>

namespace weft::trace {

/// Starts recording: a track per thread that runs fibers, a slice per fiber
/// run (named by the fiber's name, else "fiber <id>"), instant events for
/// spawn, park (with the wait reason), wake and steal, and flow arrows from
/// a wake or a spawn to the run it caused. The file is written by stop().
/// Throws std::runtime_error if already recording or if `path` cannot be
/// written. The environment variable WEFT_TRACE=<file>, read when the first
/// runtime starts, records the whole run (written at exit).
void start(const std::string& path);

/// Writes the file and stops recording; does nothing if not recording.
/// Throws std::runtime_error if writing fails.
void stop();

/// Whether a trace is being recorded.
[[nodiscard]] bool active() noexcept;

}  // namespace weft::trace
