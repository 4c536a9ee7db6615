// weft::future's shared state: waiting and publishing, on the wait-list
// mechanism (waiting.hpp). `ready` is written (release) under the list lock
// and read (acquire) without it on the fast path; a waiter that saw it
// false re-checks under the lock before it enqueues, and publish() sets it
// under that lock, so no waiter is missed.
#include "weft/future.hpp"

#include "fiber/fiber.hpp"
#include "sync/waiting.hpp"

namespace weft::detail {

bool future_wait(future_core& core, steady_time deadline) {
  // acquire: pairs with publish()'s release; the outcome is visible.
  if (core.ready.load(std::memory_order_acquire)) return true;
  lock(core.waiters);
  if (core.ready.load(std::memory_order_acquire)) {
    unlock(core.waiters);
    return true;
  }
  const std::int64_t deadline_ns = to_deadline(deadline);
  if (deadline_ns != no_deadline && deadline_ns <= steady_now_ns()) {
    unlock(core.waiters);
    return false;
  }
  parker p(current_waiter());
  waiter_node node(p);
  push_back(core.waiters, node);
  const std::uint32_t outcome =
      wait_claimed(p, core.waiters, node, deadline_ns, wait_kind::future, &core);
  if (outcome == parker::cancelled) throw_cancelled();
  return outcome != parker::timed_out;
}

void future_publish(future_core& core) noexcept {
  lock(core.waiters);
  core.ready.store(true, std::memory_order_release);
  void (*hook)(future_core*) = std::exchange(core.on_ready, nullptr);
  waiter_node* all = claim_all(core.waiters);
  unlock(core.waiters);
  wake_chain(all);
  if (hook) hook(&core);
}

bool future_set_hook(future_core& core, void (*hook)(future_core*)) noexcept {
  list_guard hold(core.waiters);
  if (core.ready.load(std::memory_order_relaxed)) return false;
  core.on_ready = hook;
  return true;
}

void future_release(future_core* core) noexcept {
  // acq_rel: the last owner sees the other's writes before deleting.
  if (core->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete core;
}

}  // namespace weft::detail
