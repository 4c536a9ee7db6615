// stack_overflow: turns a fiber's guard-region fault into a readable report.
//
// A fiber that overflows its stack touches the guard region below it
// (stack_pool.hpp) and the CPU raises SIGSEGV. The handler runs on a
// per-worker alternate signal stack (the fiber's own stack is exhausted),
// checks whether the faulting address lies in the guard of the fiber running
// on this worker, and if so writes
//   weft: stack overflow in fiber <id> "<name>" (stack <N> KiB)
// to stderr and aborts. Any other fault is passed to the handler that was
// installed before ours (a sanitizer's, or the default action).
#pragma once

#include <cstddef>

namespace weft::detail {

/// Installs the SIGSEGV/SIGBUS handler once per process. Any thread.
void install_stack_overflow_handler();

/// The calling thread's alternate signal stack, for as long as it lives.
class alternate_signal_stack {
 public:
  alternate_signal_stack() noexcept;
  ~alternate_signal_stack();
  alternate_signal_stack(const alternate_signal_stack&) = delete;
  alternate_signal_stack& operator=(const alternate_signal_stack&) = delete;

 private:
  void* memory_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace weft::detail
