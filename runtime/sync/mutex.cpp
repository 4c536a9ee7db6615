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
//  - `woken` is set while a waiter woken by an unlock (not handed the lock)
//    has not yet retried: set under the list lock by the unlocker that
//    claims it, cleared by that waiter when it resumes. While it is set an
//    unlock wakes nobody else and takes no list lock (Go's mutexWoken): the
//    woken waiter will retry, and waking more would only queue fibers that
//    find the lock taken, and, with workers on several CPUs, set them all
//    contending for its cache line. A hint: a stale value costs a wake too
//    many or a list lock, never a lost wake-up, since the woken waiter
//    re-queues (and is woken again) if it loses.
//  - `handoff_queued` is set while the head of the list asks for a hand-off
//    (starving waiters queue at the front); it sends every unlock to the
//    list so the hand-off is never skipped. Maintained under the list lock.
#include "weft/mutex.hpp"

#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "fiber/fiber.hpp"
#include "platform/spinlock.hpp"
#include "scheduler/park.hpp"
#include "sync/ownership.hpp"
#include "sync/waiting.hpp"

namespace weft {

namespace {

constexpr std::uint32_t locked = 1;
constexpr std::uint32_t queued = 2;
constexpr std::uint32_t woken = 4;
constexpr std::uint32_t handoff_queued = 8;

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

// With the list lock held: `handoff_queued` says whether the head asks for
// a hand-off (an RMW only when that changes; only holders of the list lock
// write the bit).
void note_handoff_at_head(std::atomic<std::uint32_t>& state, const detail::wait_list& list) {
  const bool wanted = list.head != nullptr && list.head->tag == wants_handoff;
  if (wanted == ((state.load(std::memory_order_relaxed) & handoff_queued) != 0)) return;
  if (wanted) {
    state.fetch_or(handoff_queued, std::memory_order_relaxed);
  } else {
    state.fetch_and(~handoff_queued, std::memory_order_relaxed);
  }
}

[[noreturn]] void fatal(const char* what, const void* m) noexcept {
  std::fprintf(stderr, "weft: %s (weft::mutex at %p)\n", what, m);
  std::abort();
}

}  // namespace

namespace detail {
std::uintptr_t holder_of(const mutex& m) noexcept {
  return m.holder_.load(std::memory_order_relaxed);
}
}  // namespace detail

bool mutex::try_lock() noexcept {
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  // acquire: pairs with the release in unlock(); the previous holder's
  // critical section happens-before ours.
  while (!(s & locked)) {
    if (state_.compare_exchange_weak(s, s | locked, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      holder_.store(detail::stack_marker(), std::memory_order_relaxed);  // ownership.hpp
      return true;
    }
  }
  return false;
}

void mutex::lock() {
  // acquire: as in try_lock(). The first CAS expects the state the last
  // fast unlock() left (`freed_state_`): 0 when uncontended, and with
  // waiters queued their bits, so that a free mutex with `queued` or `woken`
  // set still takes one CAS (mutex, 2 workers: 18.6 -> 13.3 ms, where the
  // guess 0 failed on every lock). The second CAS, from the value the first
  // read, takes a free mutex the guess missed, without the list lock
  // (barging, as try_lock() does). Written out twice, not as a loop: the
  // loop measured 7% slower on one worker. relaxed: a guess; the CAS checks it.
  std::uint32_t s = freed_state_.load(std::memory_order_relaxed);
  if (state_.compare_exchange_strong(s, s | locked, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
    s |= locked;
  } else if (!(s & locked) &&
             state_.compare_exchange_strong(s, s | locked, std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
    s |= locked;
  } else {
    acquire_slow(detail::steady_time::max());
    // Not a tail call: a stack dump of a waiting fiber then shows the call
    // the user made, lock(), above the helper it waits in.
    asm volatile("" ::: "memory");
    return;
  }
  held_state_ = s;
  holder_.store(detail::stack_marker(), std::memory_order_relaxed);  // ownership.hpp
}

bool mutex::lock_until(detail::steady_time deadline) { return acquire_slow(deadline); }

bool mutex::acquire_slow(detail::steady_time deadline) {
  if (detail::on_current_stack(holder_.load(std::memory_order_relaxed))) {
    throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                            "weft::mutex::lock would wait for itself: the caller holds the mutex "
                            "(or runs inline for the fiber that does)");
  }
  // Spin only with nothing else to run here; else park and run that.
  if (!detail::other_fibers_ready()) {
    for (int i = 0; i < spin_attempts; ++i) {
      if (try_lock()) return true;
      detail::cpu_relax();
    }
  }
  const std::int64_t deadline_ns = detail::to_deadline(deadline);
  std::int64_t started_ns = 0;  // read when we first queue: most slow paths never do
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
    if (started_ns == 0) started_ns = detail::steady_now_ns();
    detail::parker p(detail::current_waiter());
    detail::waiter_node node(p);
    node.tag = handoff ? wants_handoff : 0;
    if (handoff) {
      detail::push_front(waiters_, node);
      state_.fetch_or(handoff_queued, std::memory_order_relaxed);
    } else {
      detail::push_back(waiters_, node);
    }
    const std::uint32_t outcome =
        detail::wait_claimed(p, waiters_, node, deadline_ns, wait_kind::mutex, this);
    if (outcome == detail::parker::timed_out || outcome == detail::parker::cancelled) {
      // Not handed the lock; our node is gone. If it was the last, clear `queued`.
      {
        detail::list_guard hold(waiters_);
        if (detail::empty(waiters_)) state_.fetch_and(~queued, std::memory_order_relaxed);
        note_handoff_at_head(state_, waiters_);
      }
      if (outcome == detail::parker::cancelled) detail::throw_cancelled();
      return false;
    }
    if (node.status == handed_off) {
      holder_.store(detail::stack_marker(), std::memory_order_relaxed);
      return true;
    }
    state_.fetch_and(~woken,
                     std::memory_order_relaxed);  // retrying now: the next unlock may wake another
    if (try_lock()) return true;
    // Passed over. Starving: ask for the lock to be handed to us.
    handoff = detail::steady_now_ns() - started_ns >= starvation_ns;
  }
}

void mutex::unlock() {
#ifdef WEFT_DEBUG_CHECKS
  if (!(state_.load(std::memory_order_relaxed) & locked))
    fatal("unlock of an unlocked mutex", this);
  if (!detail::on_current_stack(holder_.load(std::memory_order_relaxed))) {
    fatal("unlock of a mutex held by another fiber or thread", this);
  }
#endif
  holder_.store(0, std::memory_order_relaxed);  // before `locked` is released: ownership.hpp
  // Nobody to wake: no waiter queued, or a woken one has yet to retry (and
  // nobody asks for a hand-off). Then just clear `locked`.
  const auto wake_nobody = [](std::uint32_t v) {
    return !(v & queued) || ((v & woken) != 0 && (v & handoff_queued) == 0);
  };
  // Start from the state lock() left: usually still current, so one CAS
  // (no load first, which would wait for the CAS before it on x86).
  std::uint32_t s = held_state_;
  if (!(s & locked) || !wake_nobody(s)) s = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (!(s & locked)) fatal("unlock of an unlocked mutex", this);
    if (!wake_nobody(s)) break;
    // lock()'s next first guess. Before the CAS: its release must be our
    // last access to the mutex, which its next holder may destroy. relaxed:
    // a guess, published with the critical section.
    if (freed_state_.load(std::memory_order_relaxed) != (s & ~locked)) {
      freed_state_.store(s & ~locked, std::memory_order_relaxed);
    }
    // release: publishes the critical section to the next acquirer.
    if (state_.compare_exchange_weak(s, s & ~locked, std::memory_order_release,
                                     std::memory_order_relaxed)) {
      return;
    }
  }
  release_slow();
}

void mutex::release_slow() {
  for (;;) {
    detail::lock(waiters_);
    detail::waiter_node* next = detail::claim_first(waiters_);
    if (detail::empty(waiters_)) state_.fetch_and(~queued, std::memory_order_relaxed);
    const bool handoff = next && next->tag == wants_handoff;
    if (handoff) next->status = handed_off;  // ownership moves: `locked` stays set
    if (next && !handoff) state_.fetch_or(woken, std::memory_order_relaxed);
    note_handoff_at_head(state_, waiters_);
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
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    while (!(s & queued)) {
      if (state_.compare_exchange_weak(s, s & ~locked, std::memory_order_release,
                                       std::memory_order_relaxed)) {
        return;
      }
    }
  }
}

}  // namespace weft
