// Reading switched-out fibers' stacks. See fiber_inspection.hpp.
#include "diagnostics/fiber_inspection.hpp"

#include <algorithm>
#include <new>

#include "diagnostics/stack_unwinder.hpp"
#include "platform/asymmetric_fence.hpp"
#include "platform/spinlock.hpp"
#include "weft/mutex.hpp"
#include "weft/shared_mutex.hpp"

namespace weft::detail {

namespace {

// Fibers pinned per heavy fence: bounds how long a resumer may wait.
constexpr std::size_t pin_batch = 64;
// Deeper stacks are cut (a runaway recursion would otherwise print forever).
constexpr std::size_t max_frames = 128;

pinned_view read_pinned(const fiber& f, stack_unwinder* unwinder) {
  pinned_view view;
  // acquire: pairs with set_state's release in complete_switch, which
  // stored `context` (and, at first run, `stack`) before it.
  const run_state state = f.state.load(std::memory_order_acquire);
  if ((state != run_state::parked && state != run_state::ready) || f.stack.bottom == nullptr) {
    return view;
  }
  view.stack_low = reinterpret_cast<std::uintptr_t>(f.stack.bottom);
  view.stack_high = reinterpret_cast<std::uintptr_t>(f.stack.top());
  view.inline_top = f.inline_host != nullptr ? f.inline_top : 0;
  for (const fiber* host = f.inline_host; host != nullptr; host = host->inline_host) {
    view.hosts.emplace_back(host,
                            host->inline_host != nullptr ? host->inline_top : view.stack_high);
  }
  const void* object = f.wait_object.load(std::memory_order_relaxed);
  switch (f.waiting_on.load(std::memory_order_relaxed)) {
    case wait_kind::mutex:
      view.holder = holder_of(*static_cast<const mutex*>(object));
      break;
    case wait_kind::shared_mutex:
      view.holder = writer_of(*static_cast<const shared_mutex*>(object));
      break;
    default:
      break;
  }
  saved_registers regs;
  if (unwinder && f.context != nullptr && read_saved_registers(f.context, regs)) {
    view.frames = unwinder->unwind(regs, view.stack_low, view.stack_high, max_frames);
  }
  return view;
}

}  // namespace

void wait_for_inspection_end(const fiber& f) noexcept {
  spin_backoff backoff;
  // acquire: pairs with the inspector's release; its reads are over.
  while (f.inspected.load(std::memory_order_acquire)) backoff.pause();
}

std::vector<pinned_view> inspect_pinned(const std::vector<fiber*>& fibers,
                                        stack_unwinder* unwinder) {
  std::vector<pinned_view> views(fibers.size());
  if (!asymmetric_fence_available()) return views;
  if (unwinder && !unwinder->usable()) unwinder = nullptr;
  for (std::size_t first = 0; first < fibers.size(); first += pin_batch) {
    const std::size_t end = std::min(fibers.size(), first + pin_batch);
    // relaxed: heavy_fence() orders these stores before our state loads and
    // against every resumer (fiber_inspection.hpp).
    for (std::size_t i = first; i < end; ++i) {
      fibers[i]->inspected.store(true, std::memory_order_relaxed);
    }
    heavy_fence();
    for (std::size_t i = first; i < end; ++i) {
      try {
        views[i] = read_pinned(*fibers[i], unwinder);
      } catch (const std::bad_alloc&) {
        // This fiber's view stays empty; above all, never leave it pinned.
      }
      // release: pairs with wait_for_inspection_end's acquire.
      fibers[i]->inspected.store(false, std::memory_order_release);
    }
  }
  return views;
}

}  // namespace weft::detail
