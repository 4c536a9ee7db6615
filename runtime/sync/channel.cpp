// Channels: the untyped core behind weft::channel<T> (see channel_internals.hpp).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <new>

#include "fiber/fiber.hpp"
#include "sync/channel_internals.hpp"
#include "sync/waiting.hpp"

namespace weft::detail {

namespace {

// Waits on one channel list; the channel lock is held on entry and released.
channel_status wait_on(channel_core* c, wait_list& list, void* payload, steady_time deadline,
                       wait_kind why) {
  parker p(current_waiter());
  waiter_node node(p);
  node.payload = payload;
  push_back(list, node, &c->senders);
  const std::uint32_t outcome = wait_claimed(p, c->senders, node, to_deadline(deadline), why, c);
  if (outcome == parker::cancelled) throw_cancelled();  // no hand-off happened
  if (outcome == parker::timed_out) return channel_status::timeout;
  return node.status == channel_waiter_saw_closed ? channel_status::closed : channel_status::ok;
}

bool deadline_passed(steady_time deadline) noexcept {
  return deadline != steady_time::max() && deadline <= std::chrono::steady_clock::now();
}

}  // namespace

channel_core* channel_create(std::size_t capacity, const value_ops* ops) {
  return new channel_core(capacity, ops);
}

void channel_retain(channel_core* c) noexcept { c->refs.fetch_add(1, std::memory_order_relaxed); }

void channel_release(channel_core* c) noexcept {
  // acq_rel: the last handle sees every other handle's writes before it
  // destroys the buffered values.
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete c;
}

channel_status channel_send(channel_core* c, void* value, steady_time deadline, bool may_wait) {
  lock(c->senders);
  channel_status result;
  if (waiter_node* woken = c->try_send_locked(value, result)) {
    unlock(c->senders);
    wake(*woken->owner);
    return result;
  }
  if (result != channel_status::full) {
    unlock(c->senders);
    return result;
  }
  if (!may_wait) {
    unlock(c->senders);
    return channel_status::full;
  }
  if (deadline_passed(deadline)) {
    unlock(c->senders);
    return channel_status::timeout;
  }
  return wait_on(c, c->senders, value, deadline, wait_kind::channel_send);
}

channel_status channel_recv(channel_core* c, void* storage, steady_time deadline, bool may_wait) {
  lock(c->senders);
  channel_status result;
  if (waiter_node* woken = c->try_recv_locked(storage, result)) {
    unlock(c->senders);
    wake(*woken->owner);
    return result;
  }
  if (result != channel_status::empty) {
    unlock(c->senders);
    return result;
  }
  if (!may_wait) {
    unlock(c->senders);
    return channel_status::empty;
  }
  if (deadline_passed(deadline)) {
    unlock(c->senders);
    return channel_status::timeout;
  }
  return wait_on(c, c->receivers, storage, deadline, wait_kind::channel_recv);
}

bool channel_close(channel_core* c) noexcept {
  lock(c->senders);
  bool closed_now = false;
  waiter_node* woken = c->close_locked(closed_now);
  unlock(c->senders);
  wake_chain(woken);
  return closed_now;
}

bool channel_is_closed(const channel_core* c) noexcept { return c->closed(); }
std::size_t channel_size(const channel_core* c) noexcept { return c->size(); }
std::size_t channel_capacity(const channel_core* c) noexcept { return c->capacity(); }

}  // namespace weft::detail
