// stall_capture: one worker's slot for having its running stack captured by
// the stall watch (stall_watch.hpp), through a signal to its thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "fiber/context.hpp"

namespace weft::detail {

struct fiber;

struct stall_capture {
  /// idle → requested (the watch, before it signals the thread) → capturing
  /// → captured (the handler, registers filled in) → released (the watch,
  /// done reading the stack) → idle (the handler, as it returns). The watch
  /// may take a request back (requested → idle) if no handler came in time.
  enum phase : std::uint32_t { idle, requested, capturing, captured, released };
  std::atomic<std::uint32_t> state{idle};
  saved_registers registers;       ///< where the thread was interrupted
  const fiber* running = nullptr;  ///< the fiber it was running; nullptr: its own context
};

}  // namespace weft::detail
