// weft::mutex. The state word and the hand-off rule are described in
// include/weft/mutex.hpp; the waiting protocol in waiting.hpp.
//
// Invariants:
//  - `locked` is set exactly while someone owns the mutex (a hand-off keeps
//    it set: ownership moves from the unlocker to the woken waiter).
//  - `queued` is set whenever the wait list may hold a waiter; it is only
//    set and cleared with the list's lock held, so an unlocker that sees it
//    clear (its fast-path CAS from `locked` to 0 succeeds) knows nobody is
//    queued, and a waiter always sets it before it parks.
#include "weft/mutex.hpp"

#include <pthread.h>

#include <cstdio>
#include <cstdlib>

#include "fiber.hpp"
#include "spinlock.hpp"
#include "waiting.hpp"

namespace weft {

namespace {

constexpr std::uint32_t locked = 1;
constexpr std::uint32_t queued = 2;

// node.tag: the waiter asks for a direct hand-off (it lost a race after
// waiting at least starvation_ns).
constexpr std::uint64_t wants_handoff = 1;
// node.status: the unlocker handed the lock over (the waiter owns it).
constexpr std::uint32_t handed_off = 1;

// A waiter that has waited this long asks for a direct hand-off (Go's
// starvation threshold). Handing off earlier makes a convoy: the lock then
// belongs to a fiber that is not running yet, and every other contender
// queues behind it.
constexpr std::int64_t starvation_ns = 1'000'000;

// Spins before queueing: a guess to be tuned; a critical section of a few
// dozen ns ends within it, and parking costs more than that.
constexpr int spin_attempts = 32;

#ifdef WEFT_DEBUG_CHECKS
std::uint64_t holder_token() noexcept {
  const detail::fiber* f = detail::current_waiter();
  if (f) return f->id;
  return static_cast<std::uint64_t>(pthread_self()) | (std::uint64_t{1} << 63);
}
#endif

[[noreturn]] void fatal(const char* what, const void* m) noexcept {
  std::fprintf(stderr, "weft: %s (weft::mutex at %p)\n", what, m);
  std::abort();
}

}  // namespace

bool mutex::try_lock() noexcept {
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  // acquire: pairs with the release in unlock(); the previous holder's
  // critical section happens-before ours.
  while (!(s & locked)) {
    if (state_.compare_exchange_weak(s, s | locked, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
#ifdef WEFT_DEBUG_CHECKS
      holder_.store(holder_token(), std::memory_order_relaxed);
#endif
      return true;
    }
  }
  return false;
}

void mutex::lock() {
  std::uint32_t expected = 0;
  if (state_.compare_exchange_strong(expected, locked, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
#ifdef WEFT_DEBUG_CHECKS
    holder_.store(holder_token(), std::memory_order_relaxed);
#endif
    return;
  }
  acquire_slow(detail::steady_time::max());
}

bool mutex::lock_until(detail::steady_time deadline) { return acquire_slow(deadline); }

bool mutex::acquire_slow(detail::steady_time deadline) {
  for (int i = 0; i < spin_attempts; ++i) {
    if (try_lock()) return true;
    detail::cpu_relax();
  }
  const std::int64_t deadline_ns = detail::to_deadline(deadline);
  const std::int64_t started_ns = detail::steady_now_ns();
  bool handoff = false;
  for (;;) {
    detail::lock(waiters_);
    // Announce a waiter first, then retry: an unlock that races with us
    // either sees `queued` (and takes the slow path, which needs the list
    // lock we hold) or released the lock before our retry below sees it.
    state_.fetch_or(queued, std::memory_order_relaxed);
    if (try_lock()) {
      if (detail::empty(waiters_)) state_.fetch_and(~queued, std::memory_order_relaxed);
      detail::unlock(waiters_);
      return true;
    }
    if (deadline_ns != detail::no_deadline && deadline_ns <= detail::steady_now_ns()) {
      if (detail::empty(waiters_)) state_.fetch_and(~queued, std::memory_order_relaxed);
      detail::unlock(waiters_);
      return false;
    }
    detail::parker p(detail::current_waiter());
    detail::waiter_node node(p);
    node.tag = handoff ? wants_handoff : 0;
    if (handoff) {
      detail::push_front(waiters_, node);
    } else {
      detail::push_back(waiters_, node);
    }
    const std::uint32_t outcome =
        detail::wait_claimed(p, waiters_, node, deadline_ns, wait_kind::mutex, this);
    if (outcome == detail::parker::timed_out) {
      // Our node is gone; if it was the last, clear `queued`.
      detail::list_guard hold(waiters_);
      if (detail::empty(waiters_)) state_.fetch_and(~queued, std::memory_order_relaxed);
      return false;
    }
    if (node.status == handed_off) {
#ifdef WEFT_DEBUG_CHECKS
      holder_.store(holder_token(), std::memory_order_relaxed);
#endif
      return true;
    }
    if (try_lock()) return true;
    // Passed over. Starving: ask for the lock to be handed to us.
    handoff = detail::steady_now_ns() - started_ns >= starvation_ns;
  }
}

void mutex::unlock() {
#ifdef WEFT_DEBUG_CHECKS
  if (!(state_.load(std::memory_order_relaxed) & locked))
    fatal("unlock of an unlocked mutex", this);
  if (holder_.load(std::memory_order_relaxed) != holder_token()) {
    fatal("unlock of a mutex held by another fiber or thread", this);
  }
  holder_.store(0, std::memory_order_relaxed);
#endif
  std::uint32_t expected = locked;
  // release: publishes the critical section to the next acquirer.
  if (state_.compare_exchange_strong(expected, 0, std::memory_order_release,
                                     std::memory_order_relaxed)) {
    return;
  }
  if (!(expected & locked)) fatal("unlock of an unlocked mutex", this);
  release_slow();
}

void mutex::release_slow() {
  for (;;) {
    detail::lock(waiters_);
    detail::waiter_node* next = detail::claim_first(waiters_);
    if (detail::empty(waiters_)) state_.fetch_and(~queued, std::memory_order_relaxed);
    const bool handoff = next && next->tag == wants_handoff;
    if (handoff) next->status = handed_off;  // ownership moves: `locked` stays set
    detail::unlock(waiters_);
    // The access that releases `locked` is our last access to the mutex:
    // nobody can take it (and then destroy it) before, so "unlock; another
    // fiber locks, unlocks and destroys it" is safe. release: as in unlock().
    if (next) {
      if (!handoff) state_.fetch_and(~locked, std::memory_order_release);
      detail::wake(*next->owner);  // `next` will unlock in turn and serve later waiters
      return;
    }
    // Nobody to wake: release, unless a waiter queued after we looked (it
    // set `queued`); then go round again and wake it.
    std::uint32_t expected = locked;
    if (state_.compare_exchange_strong(expected, 0, std::memory_order_release,
                                       std::memory_order_relaxed)) {
      return;
    }
  }
}

}  // namespace weft
