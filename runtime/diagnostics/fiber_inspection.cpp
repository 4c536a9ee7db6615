// Reading switched-out fibers' stacks. See fiber_inspection.hpp.
#include "diagnostics/fiber_inspection.hpp"

#include <algorithm>

#include "diagnostics/stack_unwinder.hpp"
#include "platform/asymmetric_fence.hpp"
#include "platform/spinlock.hpp"

namespace weft::detail {

namespace {

// Fibers pinned per heavy fence: bounds how long a resumer may wait.
constexpr std::size_t pin_batch = 64;
// Deeper stacks are cut (a runaway recursion would otherwise print forever).
constexpr std::size_t max_frames = 128;

std::vector<std::uintptr_t> capture_pinned(const fiber& f, stack_unwinder& unwinder) {
  // acquire: pairs with set_state's release in complete_switch, which
  // stored `context` (and, at first run, `stack`) before it.
  const run_state state = f.state.load(std::memory_order_acquire);
  if (state != run_state::parked && state != run_state::ready) return {};
  saved_registers regs;
  if (f.context == nullptr || f.stack.bottom == nullptr || !read_saved_registers(f.context, regs)) {
    return {};
  }
  return unwinder.unwind(regs, reinterpret_cast<std::uintptr_t>(f.stack.bottom),
                         reinterpret_cast<std::uintptr_t>(f.stack.top()), max_frames);
}

}  // namespace

void wait_for_inspection_end(const fiber& f) noexcept {
  spin_backoff backoff;
  // acquire: pairs with the inspector's release; its reads are over.
  while (f.inspected.load(std::memory_order_acquire)) backoff.pause();
}

std::vector<std::vector<std::uintptr_t>> capture_stacks(const std::vector<fiber*>& fibers,
                                                        stack_unwinder& unwinder) {
  std::vector<std::vector<std::uintptr_t>> stacks(fibers.size());
  if (!unwinder.usable() || !asymmetric_fence_available()) return stacks;
  for (std::size_t first = 0; first < fibers.size(); first += pin_batch) {
    const std::size_t end = std::min(fibers.size(), first + pin_batch);
    // relaxed: heavy_fence() orders these stores before our state loads and
    // against every resumer (fiber_inspection.hpp).
    for (std::size_t i = first; i < end; ++i)
      fibers[i]->inspected.store(true, std::memory_order_relaxed);
    heavy_fence();
    for (std::size_t i = first; i < end; ++i) {
      try {
        stacks[i] = capture_pinned(*fibers[i], unwinder);
      } catch (...) {
        // Out of memory: this fiber's stack stays empty; never leave it pinned.
      }
      // release: pairs with wait_for_inspection_end's acquire.
      fibers[i]->inspected.store(false, std::memory_order_release);
    }
  }
  return stacks;
}

}  // namespace weft::detail
