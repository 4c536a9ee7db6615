// Internal: the compiled part of weft::generator, a body on a stack of its
// own that runs when resumed and suspends back. Not part of the API.
#pragma once

#include <cstddef>

namespace weft::detail {

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
  bool resume();
  /// From the body: back to the consumer until the next resume().
  void suspend();

  /// Opaque (runtime/fiber/generator.cpp).
  struct state;

 private:
  state* state_;
};

}  // namespace weft::detail
