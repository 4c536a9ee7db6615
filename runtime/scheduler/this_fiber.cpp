// weft::this_fiber and fiber_id printing.
#include "weft/this_fiber.hpp"

#include <ostream>
#include <thread>

#include "fiber/fiber.hpp"
#include "scheduler/park.hpp"
#include "scheduler/timers.hpp"
#include "scheduler/worker.hpp"

namespace weft {

std::ostream& operator<<(std::ostream& out, fiber_id id) {
  if (!id) return out << "none";
  return out << id.value();
}

namespace this_fiber {

namespace {

// A sleeping fiber's timer; lives on its stack while it sleeps.
struct sleep_timer : detail::timer_entry {
  detail::fiber* sleeper = nullptr;
};

void wake_sleeper(detail::timer_entry* entry) noexcept {
  detail::make_ready(static_cast<sleep_timer*>(entry)->sleeper);
}

// Arms the timer only after the fiber switched out (see park.hpp), on the
// heap of the worker it parked on.
bool arm_sleep_timer(detail::fiber* /*parked*/, void* arg) noexcept {
  detail::worker::current()->add_timer(static_cast<sleep_timer*>(arg));
  return true;
}

}  // namespace

void yield() {
  if (detail::current_fiber()) {
    detail::worker::yield_current();
  } else {
    std::this_thread::yield();
  }
}

void sleep_until(std::chrono::steady_clock::time_point deadline) {
  detail::fiber* self = detail::current_fiber();
  if (!self) {
    std::this_thread::sleep_until(deadline);
    return;
  }
  if (deadline <= std::chrono::steady_clock::now()) return;
  sleep_timer timer;
  timer.deadline_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  timer.fire = &wake_sleeper;
  timer.sleeper = self;
  detail::park_current(&arm_sleep_timer, &timer, wait_kind::sleep, &timer);
}

fiber_id get_id() noexcept {
  const detail::fiber* f = detail::current_fiber();
  return f ? fiber_id(f->id) : fiber_id{};
}

}  // namespace this_fiber

}  // namespace weft
