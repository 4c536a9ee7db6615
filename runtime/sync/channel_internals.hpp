// channel_internals: the untyped channel core behind weft::channel<T> and select.
//
// State, all guarded by one lock (the lock word of `senders`, "the channel
// lock"): the ring buffer (head, count), `closed`, and two wait lists of
// blocked senders and receivers (receiver nodes name `senders` as their
// guard, see waiting.hpp).
//
// Invariants (with the lock held):
//  - at most one of {a claimable receiver waits, the buffer holds values}:
//    a receiver waits only when the buffer is empty and no sender waits,
//    and a send first serves waiting receivers;
//  - at most one of {a claimable sender waits, the buffer has room}, for
//    the same reason (unbuffered channels: "room" never exists);
//  - once `closed`, nobody waits: close() claims every waiter, and no
//    operation enqueues on a closed channel.
// Hand-offs happen under the lock, by the side that finds the other one
// waiting: it claims the waiter's node, moves the value straight into the
// receiver's storage (or out of the sender's), sets `status`, and wakes it
// after unlocking. A value is thus moved exactly once from sender to
// receiver (or through one buffer slot), which is what makes delivery
// exactly-once under close() races: close() claims only nodes that nobody
// claimed, and claimed nodes have already been served.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

#include "sync/waiting.hpp"
#include "weft/channel.hpp"

namespace weft::detail {

/// waiter_node::status of a channel waiter: served (value handed over) or
/// woken by close().
inline constexpr std::uint32_t channel_waiter_served = 0;
inline constexpr std::uint32_t channel_waiter_saw_closed = 1;

class channel_core {
 public:
  channel_core(std::size_t capacity, const value_ops* ops)
      : ops_(ops),
        capacity_(capacity),
        stride_((ops->size + ops->align - 1) / ops->align * ops->align) {
    if (capacity_ > 0) {
      ring_ = static_cast<std::byte*>(::operator new (
          stride_* capacity_, std::align_val_t{std::max(ops->align, alignof(std::max_align_t))}));
    }
  }
  ~channel_core() {
    for (std::size_t i = 0; i < count_; ++i) ops_->destroy(slot(i));
    if (ring_) {
      ::operator delete (ring_, std::align_val_t{std::max(ops_->align, alignof(std::max_align_t))});
    }
  }

  std::atomic<std::uint32_t> refs{1};
  wait_list senders;    // its lock is the channel lock
  wait_list receivers;  // guarded by the channel lock

  // ---- with the channel lock held. Each returns the node it claimed (to
  // wake after unlocking), or nullptr; `result` says what happened, and
  // `would_block` that the caller must wait.

  waiter_node* try_send_locked(void* value, channel_status& result) noexcept {
    if (closed_.load(std::memory_order_relaxed)) {
      result = channel_status::closed;
      return nullptr;
    }
    if (waiter_node* receiver = claim_first(receivers)) {
      ops_->move_into(receiver->payload, value);
      receiver->status = channel_waiter_served;
      result = channel_status::ok;
      return receiver;
    }
    if (count_ < capacity_) {
      ops_->move_into(slot(count_), value);
      set_count(count_ + 1);
      result = channel_status::ok;
      return nullptr;
    }
    result = channel_status::full;
    return nullptr;
  }

  waiter_node* try_recv_locked(void* storage, channel_status& result) noexcept {
    if (count_ > 0) {
      ops_->move_into(storage, slot(0));
      ops_->destroy(slot(0));
      head_ = (head_ + 1) % capacity_;
      set_count(count_ - 1);
      result = channel_status::ok;
      // Room appeared: the first waiting sender's value moves into it.
      if (waiter_node* sender = claim_first(senders)) {
        ops_->move_into(slot(count_), sender->payload);
        set_count(count_ + 1);
        sender->status = channel_waiter_served;
        return sender;
      }
      return nullptr;
    }
    if (waiter_node* sender = claim_first(senders)) {
      ops_->move_into(storage, sender->payload);
      sender->status = channel_waiter_served;
      result = channel_status::ok;
      return sender;
    }
    result =
        closed_.load(std::memory_order_relaxed) ? channel_status::closed : channel_status::empty;
    return nullptr;
  }

  /// Claims every waiter with `saw_closed`; returns them chained.
  waiter_node* close_locked(bool& closed_now) noexcept {
    closed_now = !closed_.load(std::memory_order_relaxed);
    if (!closed_now) return nullptr;
    closed_.store(true, std::memory_order_relaxed);
    waiter_node* chain = claim_all(receivers);
    waiter_node** tail = &chain;
    while (*tail) tail = &(*tail)->next;
    for (waiter_node* n = chain; n; n = n->next) n->status = channel_waiter_saw_closed;
    while (waiter_node* sender = claim_first(senders)) {
      sender->status = channel_waiter_saw_closed;
      append_claimed(chain, tail, sender);
    }
    return chain;
  }

  [[nodiscard]] bool closed() const noexcept { return closed_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t size() const noexcept {
    return count_snapshot_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  void* slot(std::size_t i) const noexcept { return ring_ + ((head_ + i) % capacity_) * stride_; }
  void set_count(std::size_t n) noexcept {
    count_ = n;
    count_snapshot_.store(n, std::memory_order_relaxed);
  }

  const value_ops* const ops_;
  const std::size_t capacity_;
  const std::size_t stride_;
  std::byte* ring_ = nullptr;
  std::size_t head_ = 0;   // guarded by the channel lock
  std::size_t count_ = 0;  // guarded by the channel lock
  // Written under the lock; read without it by is_closed()/size() (relaxed:
  // a snapshot, as Go's len(ch)).
  std::atomic<bool> closed_{false};
  std::atomic<std::size_t> count_snapshot_{0};
};

}  // namespace weft::detail
