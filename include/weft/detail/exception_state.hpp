// Internal: a view of the C++ runtime's per-thread exception state. Not
// part of the API.
#pragma once

#include <cstdint>

namespace weft::detail {

/// The C++ runtime's per-thread exception state (the first members of the
/// Itanium ABI's __cxa_eh_globals: the stack of caught exceptions and the
/// count of uncaught ones, all it has on x86-64 and AArch64 Linux). A stack
/// that suspends inside a catch block and resumes on another thread, or
/// under another stack's code, must take it along, or
/// std::current_exception() and rethrow break and exception objects leak.
/// Every context (fiber, generator body) keeps its own across a switch.
struct exception_state {
  void* caught = nullptr;
  unsigned int uncaught = 0;

  /// Nothing caught and nothing being thrown: nothing to keep.
  /// (One test, not two: the generators' fast path asks at every switch.)
  [[nodiscard]] bool empty() const noexcept {
    return (reinterpret_cast<std::uintptr_t>(caught) | uncaught) == 0;
  }
};

}  // namespace weft::detail
