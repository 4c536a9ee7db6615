// weft::this_fiber and fiber_id printing.
#include "weft/this_fiber.hpp"

#include <ostream>
#include <thread>

#include "fiber/fiber.hpp"
#include "scheduler/park.hpp"
#include "scheduler/worker.hpp"
#include "sync/waiting.hpp"

namespace weft {

std::ostream& operator<<(std::ostream& out, fiber_id id) {
  if (!id) return out << "none";
  return out << id.value();
}

namespace this_fiber {

// yield() is in worker.cpp, beside the worker::yield_current() it inlines.

void sleep_until(std::chrono::steady_clock::time_point deadline) {
  detail::fiber* self = detail::current_fiber();
  if (!self) {
    std::this_thread::sleep_until(deadline);
    return;
  }
  if (deadline <= std::chrono::steady_clock::now()) return;
  // A timed wait on no list: only its timer (or a canceller) ends it.
  detail::parker p(self);
  if (detail::wait_claimed(p, nullptr, 0, nullptr, 0, detail::to_deadline(deadline),
                           wait_kind::sleep, &p) == detail::parker::cancelled) {
    detail::throw_cancelled();
  }
}

fiber_id get_id() noexcept {
  const detail::fiber* f = detail::current_fiber();
  return f ? fiber_id(f->id) : fiber_id{};
}

}  // namespace this_fiber

}  // namespace weft
