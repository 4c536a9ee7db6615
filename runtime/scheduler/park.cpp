// Parking fibers and blocking threads. See park.hpp.
#include "scheduler/park.hpp"

#include "diagnostics/trace_recorder.hpp"
#include "fiber/fiber.hpp"
#include "platform/futex.hpp"
#include "scheduler/runtime_core.hpp"
#include "scheduler/worker.hpp"

namespace weft::detail {

fiber* current_fiber() noexcept {
  const worker* w = worker::current();
  return w ? w->running() : nullptr;
}

bool other_fibers_ready() noexcept {
  const worker* w = worker::current();
  return w != nullptr && w->has_ready_fibers();
}

void make_ready(fiber* f) noexcept {
  set_state(*f, run_state::parked, run_state::ready);
  if (tracing::on()) [[unlikely]]
    tracing::woken(*f);
  f->core.schedule_woken(f);
}

void wake(waiter& w) noexcept {
  if (fiber* f = w.parked) {
    make_ready(f);
    return;
  }
  // release: pairs with the acquire load in block_until_woken(). After this
  // store the waiter may return and free `w`; futex_wake only uses the address.
  w.signal.store(1, std::memory_order_release);
  futex_wake(w.signal, 1);
}

void block_until_woken(waiter& w) noexcept {
  while (w.signal.load(std::memory_order_acquire) == 0) futex_wait(w.signal, 0);
}

}  // namespace weft::detail
