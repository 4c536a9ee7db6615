// weft::options and weft::spawn_options: how a runtime and a fiber are set up.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace weft {

/// The smallest usable fiber stack a runtime or a spawn accepts (16 KiB).
/// Smaller values throw std::invalid_argument naming the option.
inline constexpr std::size_t min_stack_size = 16 * 1024;

/// The largest fiber stack accepted (1 GiB); larger throws std::invalid_argument.
inline constexpr std::size_t max_stack_size = std::size_t{1} << 30;

/// The largest worker count accepted; larger throws std::invalid_argument.
inline constexpr unsigned max_workers = 1024;

/// Settings of a runtime. Validated by the runtime's constructor.
struct options {
  /// Worker OS threads; 0 means std::thread::hardware_concurrency().
  unsigned workers = 0;
  /// Usable bytes per fiber stack (rounded up to whole pages); a guard region
  /// lies below every stack. At least min_stack_size.
  std::size_t stack_size = 64 * 1024;
  /// Worker threads are named "<name>-<index>" (cut to the 15 characters
  /// Linux allows). Must not be empty.
  std::string name = "weft";
  /// Every this often, a thread of the runtime looks for fibers that wait
  /// for each other (runtime::find_deadlocks) and writes each new cycle to
  /// stderr once, with the stacks of its fibers. 0 (the default) is off;
  /// the environment variable WEFT_DEADLOCK_CHECK_MS gives the default.
  /// Negative throws std::invalid_argument.
  std::chrono::milliseconds deadlock_check{0};
  /// A worker that runs one fiber longer than this without a switch (a
  /// blocking system call, a std::mutex, a long loop) makes the runtime
  /// write one warning to stderr, naming the fiber, with the stack it is
  /// stuck in. 0 (the default) is off; WEFT_STALL_WARNING_MS gives the
  /// default. Negative throws std::invalid_argument.
  std::chrono::milliseconds stall_warning{0};
};

/// Settings of one spawned fiber.
struct spawn_options {
  /// Shown in fiber dumps, traces and error reports.
  std::string name;
  /// Usable stack bytes; 0 means the runtime's default. Else at least
  /// min_stack_size.
  std::size_t stack_size = 0;
};

}  // namespace weft
