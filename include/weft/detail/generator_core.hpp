// Internal: the machinery of weft::generator, a body on a stack of its own
// that runs when resumed and suspends back. Not part of the API.
//
// resume() and suspend() have an inline fast path: on a plain thread, with
// no exception state on either side and no sanitizer to tell, a switch is
// one call to the context switch, straight from the consumer's loop and
// from the body's yield. No function of the generator's is entered or left
// around it, so no return crosses from one stack to the other (a return
// whose call was made on the other stack is mispredicted by the CPU). Every
// other case (the first resume, a fiber as consumer, an exception state to
// keep, the end of the body, a sanitizer build) takes the compiled slow
// path in runtime/fiber/generator.cpp, which keeps the same invariants.
#pragma once

#include <cstddef>

#include "weft/detail/exception_state.hpp"

namespace weft::detail {

/// What the context switch returns: the context that switched to the
/// caller, and the pointer it passed.
struct generator_switch_result {
  void* from;
  void* data;
};

/// The context switch itself (Boost.Context's, entered without any frame
/// of weft's in between): suspends the caller and resumes `to`.
extern "C" generator_switch_result weft_detail_generator_switch(void* to, void* data) noexcept;

/// The calling thread's C++ exception state, set by the first resume on a
/// thread that is not a weft worker (a worker's stays null: a fiber as
/// consumer takes the slow path). A plain thread's frames never move to
/// another thread, so the consumer may read it across a switch; the body,
/// which may move, never reads it.
inline thread_local constinit exception_state* plain_thread_exceptions = nullptr;

class generator_core {
 public:
  /// What the generator runs: `body(state, core)` on the generator's stack.
  using body_fn = void (*)(void* state, generator_core& core);

  /// Nothing runs yet. Throws std::invalid_argument for a stack_size out of
  /// [min_stack_size, max_stack_size] (0: the default fiber stack size).
  generator_core(body_fn body, void* state, std::size_t stack_size);
  /// Unwinds a body that has started and not returned (its destructors run),
  /// then frees the stack.
  ~generator_core();
  generator_core(const generator_core&) = delete;
  generator_core& operator=(const generator_core&) = delete;

  /// Runs the body until it suspends (true) or returns (false); rethrows
  /// what the body threw. From the consumer's side only.
  bool resume() {
    if (fast_ && plain_thread_exceptions != nullptr && plain_thread_exceptions->empty())
        [[likely]] {
      body_context_ = weft_detail_generator_switch(body_context_, nullptr).from;
      // The body suspended at a yield and left no exception state behind
      // (read again rather than kept in a register across the switch).
      if (fast_ && plain_thread_exceptions->empty()) [[likely]]
        return true;
      return finish_resume();
    }
    return resume_slow();
  }

  /// From the body: back to the consumer until the next resume(). The
  /// body's exception state, if any, is set aside by the consumer's side.
  void suspend() {
    if (fast_) [[likely]] {
      consumer_context_ = weft_detail_generator_switch(consumer_context_, nullptr).from;
      if (!fast_) [[unlikely]]
        resumed_slow();
      return;
    }
    suspend_slow();
  }

  /// Opaque (runtime/fiber/generator.cpp).
  struct state;

 private:
  friend struct generator_core_access;
  bool resume_slow();
  bool finish_resume();
  void suspend_slow();
  void resumed_slow();

  state* state_;
  // The suspended body's context (null before its start) and, while the
  // body runs, the consumer's: each side renews the other's at every switch.
  void* body_context_ = nullptr;
  void* consumer_context_ = nullptr;
  // The fast path may be taken: the body has started, has not ended, is not
  // being unwound and has no exception state set aside, and no sanitizer
  // needs to be told of switches. Cleared by the consumer's side, set again
  // by the body's when it next runs.
  bool fast_ = false;
};

}  // namespace weft::detail
