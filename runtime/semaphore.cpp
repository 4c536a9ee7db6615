// weft::semaphore. `count_` is the number of free units. Invariant: while a
// claimable waiter is queued, count_ is 0 — release() hands units to queued
// waiters (FIFO) before it adds what is left to the count, and a waiter
// queues only after seeing count_ == 0 under the list's lock. So the
// lock-free fast path in try_acquire() can never overtake a queued waiter.
#include "weft/semaphore.hpp"

#include <stdexcept>

#include "fiber.hpp"
#include "waiting.hpp"

namespace weft {

semaphore::semaphore(std::ptrdiff_t initial) : count_(initial) {
  if (initial < 0) throw std::invalid_argument("weft::semaphore: initial count must be >= 0");
}

bool semaphore::try_acquire() noexcept {
  std::ptrdiff_t c = count_.load(std::memory_order_relaxed);
  // acquire: pairs with the release in release(); what the releaser did
  // before it happens-before what the acquirer does after.
  while (c > 0) {
    if (count_.compare_exchange_weak(c, c - 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

bool semaphore::acquire_until(detail::steady_time deadline) {
  const std::int64_t deadline_ns = detail::to_deadline(deadline);
  detail::lock(waiters_);
  if (try_acquire()) {
    detail::unlock(waiters_);
    return true;
  }
  if (deadline_ns != detail::no_deadline && deadline_ns <= detail::steady_now_ns()) {
    detail::unlock(waiters_);
    return false;
  }
  detail::parker p(detail::current_waiter());
  detail::waiter_node node(p);
  detail::push_back(waiters_, node);
  // Woken by release() with a unit handed to us, or by the timeout.
  return detail::wait_claimed(p, waiters_, node, deadline_ns, wait_kind::semaphore, this) !=
         detail::parker::timed_out;
}

void semaphore::release(std::ptrdiff_t n) {
  if (n < 0) throw std::invalid_argument("weft::semaphore::release: n must be >= 0");
  detail::waiter_node* granted = nullptr;
  detail::waiter_node** tail = &granted;
  detail::lock(waiters_);
  for (; n > 0; --n) {
    detail::waiter_node* node = detail::claim_first(waiters_);
    if (!node) break;
    detail::append_claimed(granted, tail, node);
  }
  // release: pairs with try_acquire()'s acquire.
  if (n > 0) count_.fetch_add(n, std::memory_order_release);
  detail::unlock(waiters_);
  detail::wake_chain(granted);
}

}  // namespace weft
