// Cancellation: flags, the publish/interrupt handshake, shields, timeout
// scopes and stop tokens. See cancellation.hpp for the protocol.
#include "fiber/cancellation.hpp"

#include <stop_token>

#include "fiber/fiber.hpp"
#include "platform/asymmetric_fence.hpp"
#include "platform/spinlock.hpp"
#include "scheduler/park.hpp"
#include "scheduler/worker.hpp"
#include "weft/cancel.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

const bool fiber_fence_is_compiler_barrier = asymmetric_fence_available();

namespace {

// The interrupter's half: membarrier where the fiber's side relies on it.
// (Asks the registration directly: fiber_fence_is_compiler_barrier may not
// be initialized yet during static initialization; then the fiber's side
// uses a full fence, and a heavy fence here is merely more than needed.)
void interrupter_side_fence() noexcept {
  if (asymmetric_fence_available()) {
    heavy_fence();
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

// Claims `f`'s current wait, if it has a published one, and wakes it.
// `f` stays alive (the caller's reference, or the timeout scope on its stack).
void interrupt(fiber& f) noexcept {
  // relaxed: the fence orders it before the load of the hook.
  f.interrupters.fetch_add(1, std::memory_order_relaxed);
  interrupter_side_fence();
  // acquire: pairs with publish_cancellable_wait's release; the hook's
  // fields are visible.
  cancel_hook* hook = f.cancellable_wait.load(std::memory_order_acquire);
  bool won = false;
  if (hook) {
    won = hook->claim(hook);
  } else if (fiber* guest = f.inline_guest.load(std::memory_order_acquire)) {
    cancel_fiber(*guest);  // it runs on f's stack: f waits for it (see the header)
  }
  // release: our use of the hook happens before the fiber's withdrawal ends.
  f.interrupters.fetch_sub(1, std::memory_order_release);
  // A claimed wait stays parked until woken, by us: `f` is still there.
  if (won) make_ready(&f);
}

// A timeout scope's timer (under the timer heap's lock, which the scope's
// owner takes to remove the timer before the scope goes away).
void on_scope_expired(timer_entry* entry) noexcept {
  auto* scope = reinterpret_cast<timeout_scope*>(reinterpret_cast<char*>(entry) -
                                                 offsetof(timeout_scope, timer));
  // relaxed: interrupt()'s fence orders it before the hook's load; the
  // fiber's side reads it after its own fence.
  scope->expired.store(true, std::memory_order_relaxed);
  interrupt(*scope->owner);
}

// Whether a shield is alive in the fiber's frame or one enclosing it.
inline bool shielded(const fiber& f) noexcept {
  if (f.cancel.shields == 0 && f.cancel.enclosing == nullptr) [[likely]]
    return false;
  for (const cancel_frame* frame = &f.cancel; frame; frame = frame->enclosing) {
    if (frame->shields != 0) return true;
  }
  return false;
}

// Whether a scope from `first` outward, in `frame` and the frames enclosing
// it, has run out.
bool any_expired(const timeout_scope* first, const cancel_frame* frame) noexcept {
  for (; frame; frame = frame->enclosing, first = frame ? frame->innermost : nullptr) {
    for (const timeout_scope* s = first; s; s = s->outer) {
      if (s->expired.load(std::memory_order_relaxed)) return true;
    }
  }
  return false;
}

// Whether a cancellation other than `scope`'s own applies: the fiber's, or
// an enclosing scope's.
bool outer_cancellation(const fiber& f, const timeout_scope& scope) noexcept {
  return f.cancel_requested.load(std::memory_order_relaxed) || any_expired(scope.outer, &f.cancel);
}

}  // namespace

bool cancellation_pending_slow(const fiber& f) noexcept {
  if (shielded(f)) return false;
  if (f.cancel_requested.load(std::memory_order_relaxed)) [[unlikely]]
    return true;
  return any_expired(f.cancel.innermost, &f.cancel);
}

void begin_inline_guest_slow(fiber& host, fiber& child) noexcept {
  // A shielded host's cancellation does not reach it, nor its guest; the
  // host's shields cannot change before the guest returns.
  if (!shielded(host)) publish_inline_guest(host, child);
}

bool publish_cancellable_wait_slow(fiber& f, cancel_hook& hook) noexcept {
  if (shielded(f)) return true;
  // release: pairs with interrupt()'s acquire load.
  f.cancellable_wait.store(&hook, std::memory_order_release);
  fiber_side_fence();
  return !cancellation_pending(f) || !hook.claim(&hook);
}

void wait_settled(cancel_hook& hook) noexcept {
  spin_backoff backoff;
  // acquire: pairs with settle().
  while (!hook.settled.load(std::memory_order_acquire)) backoff.pause();
}

void wait_out_interrupters(fiber& f) noexcept {
  fiber_side_fence();
  // acquire: pairs with interrupt()'s release decrement; its use of what it
  // read is over before we reuse the memory.
  spin_backoff backoff;
  while (f.interrupters.load(std::memory_order_acquire) != 0) backoff.pause();
}

void cancel_fiber(fiber& f) noexcept {
  // seq_cst: against current_stop_token()'s publication of the stop source
  // (store, then load the other's flag, on both sides).
  if (f.cancel_requested.exchange(true, std::memory_order_seq_cst)) return;  // said once
  if (f.has_stop_source.load(std::memory_order_seq_cst)) f.stop.request_stop();
  interrupt(f);
}

void store_cancelled_outcome(fiber& f) noexcept {
  f.body->error = std::make_exception_ptr(cancelled{});
}

bool is_cancellation(const std::exception_ptr& error) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const cancelled&) {
    return true;
  } catch (...) {
    return false;
  }
}

void throw_cancelled() { throw cancelled(); }

std::stop_token current_stop_token() noexcept {
  fiber* f = current_fiber();
  if (!f) return {};
  if (!f->has_stop_source.load(std::memory_order_relaxed)) {
    f->stop = std::stop_source();
    // seq_cst: see cancel_fiber(); whichever side comes second stops it.
    f->has_stop_source.store(true, std::memory_order_seq_cst);
    if (f->cancel_requested.load(std::memory_order_seq_cst)) f->stop.request_stop();
  }
  return f->stop.get_token();
}

void shield_cancellation(bool enter) noexcept {
  fiber* f = current_fiber();
  if (!f) return;
  if (enter) {
    ++f->cancel.shields;
  } else {
    --f->cancel.shields;
  }
}

void run_with_timeout(std::int64_t deadline_ns, void (*fn)(void*), void* arg) {
  fiber* const self = current_fiber();
  if (!self) {
    runtime* rt = runtime::current();
    (rt ? *rt : default_runtime()).spawn([&] { run_with_timeout(deadline_ns, fn, arg); }).join();
    return;
  }
  timeout_scope scope;
  scope.owner = self;
  scope.outer = self->cancel.innermost;
  if (deadline_ns <= steady_now_ns()) {
    scope.expired.store(true, std::memory_order_relaxed);
  } else if (deadline_ns != no_deadline) {
    worker* w = worker::current();
    scope.timer.deadline_ns = deadline_ns;
    scope.timer.fire = &on_scope_expired;
    scope.armed_on = &w->timers();
    w->add_timer(&scope.timer);
  }
  // The record is the same wherever the fiber runs when the scope ends (a
  // generator's body swaps whole frames, so this scope is unlinked from the
  // frame it was linked to).
  self->cancel.innermost = &scope;
  struct leave_scope {
    timeout_scope& scope;
    ~leave_scope() {
      scope.owner->cancel.innermost = scope.outer;
      // remove() returns once no fire callback of the timer runs.
      if (scope.armed_on) scope.armed_on->remove(&scope.timer);
    }
  } leave{scope};
  try {
    fn(arg);
  } catch (const cancelled&) {
    if (scope.expired.load(std::memory_order_relaxed) && !outer_cancellation(*self, scope)) {
      throw timeout_error("weft::with_timeout: the time ran out");
    }
    throw;
  }
}

}  // namespace weft::detail

namespace weft::this_fiber {

std::stop_token get_stop_token() noexcept { return detail::current_stop_token(); }

bool cancellation_requested() noexcept {
  const detail::fiber* f = detail::current_fiber();
  return f != nullptr && detail::cancellation_pending(*f);
}

}  // namespace weft::this_fiber
