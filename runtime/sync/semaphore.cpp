// weft::semaphore.
//
// State: one 64-bit word, free units in the low half and queued waiters in
// the high half, so "are there waiters?" and "add units" are one atomic
// step. Waiters queue FIFO in the wait list.
//
// Invariants:
//  - units > 0 implies waiters == 0: a waiter registers (waiters + 1) only
//    by a CAS that sees units == 0, and release() adds units only by a CAS
//    that sees waiters == 0; otherwise it hands units to queued waiters.
//    So the lock-free fast path (try_acquire) never overtakes a waiter.
//  - waiters mirrors the wait list's size (nodes linked). Each locked
//    section that changes the list re-syncs it before unlocking, except
//    the cleanup of a timed-out wait (inside wait_claimed), which the
//    waiter re-syncs right after: until then the count is too high, which
//    only sends a releaser through the locked path, where it re-syncs too.
//  - release()'s last access to the semaphore is either that CAS or the
//    unlock after handing units out (before it wakes anyone), so a
//    semaphore may be destroyed by whoever its release() let through.
#include "weft/semaphore.hpp"

#include <limits>
#include <stdexcept>

#include "fiber/fiber.hpp"
#include "sync/waiting.hpp"

namespace weft {

namespace {
constexpr std::uint64_t one_waiter = std::uint64_t{1} << 32;
constexpr std::uint64_t units_mask = one_waiter - 1;
std::uint64_t units_of(std::uint64_t s) noexcept { return s & units_mask; }
std::uint64_t waiters_of(std::uint64_t s) noexcept { return s >> 32; }

// With the list locked: make the waiter half of `state` equal the list size.
void resync_waiters(std::atomic<std::uint64_t>& state, const detail::wait_list& list) noexcept {
  std::uint64_t s = state.load(std::memory_order_relaxed);
  while (!state.compare_exchange_weak(s, units_of(s) | (std::uint64_t{list.size} << 32),
                                      std::memory_order_relaxed, std::memory_order_relaxed)) {
  }
}
}  // namespace

semaphore::semaphore(std::ptrdiff_t initial) : state_(static_cast<std::uint64_t>(initial)) {
  if (initial < 0 || static_cast<std::uint64_t>(initial) > units_mask) {
    throw std::invalid_argument("weft::semaphore: initial count must be in [0, 2^32)");
  }
}

bool semaphore::try_acquire() noexcept {
  std::uint64_t s = state_.load(std::memory_order_relaxed);
  // acquire: pairs with release()'s release CAS; what the releaser did
  // before happens-before what the acquirer does after.
  while (units_of(s) > 0) {
    if (state_.compare_exchange_weak(s, s - 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

bool semaphore::acquire_until(detail::steady_time deadline) {
  const std::int64_t deadline_ns = detail::to_deadline(deadline);
  detail::lock(waiters_);
  std::uint64_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (units_of(s) > 0) {
      if (state_.compare_exchange_weak(s, s - 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        detail::unlock(waiters_);
        return true;
      }
      continue;
    }
    if (deadline_ns != detail::no_deadline && deadline_ns <= detail::steady_now_ns()) {
      detail::unlock(waiters_);
      return false;
    }
    // Register as a waiter only while no unit is free (see the invariants).
    if (state_.compare_exchange_weak(s, s + one_waiter, std::memory_order_relaxed,
                                     std::memory_order_relaxed)) {
      break;
    }
  }
  detail::parker p(detail::current_waiter());
  detail::waiter_node node(p);
  detail::push_back(waiters_, node);
  const std::uint32_t outcome =
      detail::wait_claimed(p, waiters_, node, deadline_ns, wait_kind::semaphore, this);
  if (outcome != detail::parker::timed_out && outcome != detail::parker::cancelled) {
    return true;  // release() handed us a unit and took us off the count
  }
  // Timed out or cancelled: no unit was handed to us, and our node is gone
  // (unlinked by wait_claimed or a releaser).
  {
    detail::list_guard hold(waiters_);
    resync_waiters(state_, waiters_);
  }
  if (outcome == detail::parker::cancelled) detail::throw_cancelled();
  return false;
}

void semaphore::release(std::ptrdiff_t n) {
  if (n < 0) throw std::invalid_argument("weft::semaphore::release: n must be >= 0");
  auto left = static_cast<std::uint64_t>(n);
  detail::waiter_node* granted = nullptr;
  detail::waiter_node** tail = &granted;
  while (left > 0) {
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    if (waiters_of(s) == 0) {
      if (units_of(s) + left > units_mask) {
        throw std::overflow_error("weft::semaphore::release: count would exceed 2^32 - 1");
      }
      // No waiter: the units go to the count. release: pairs with the
      // acquirers' acquire. This CAS is our last access to the semaphore.
      if (state_.compare_exchange_weak(s, s + left, std::memory_order_release,
                                       std::memory_order_relaxed)) {
        break;
      }
      continue;
    }
    // Waiters: hand them units directly, FIFO.
    detail::lock(waiters_);
    while (left > 0) {
      detail::waiter_node* node = detail::claim_first(waiters_);
      if (!node) break;
      detail::append_claimed(granted, tail, node);
      --left;
    }
    resync_waiters(state_, waiters_);
    detail::unlock(waiters_);
  }
  detail::wake_chain(granted);
}

}  // namespace weft
