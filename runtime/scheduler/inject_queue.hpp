// inject_queue: fibers made runnable from outside the runtime's workers
// (spawns and wake-ups from plain threads, other runtimes, the I/O poller).
//
// An intrusive two-part queue, linked through fiber::next_in_list:
//   - the *inbox*, a LIFO stack that producers push on with one CAS on
//     `inbox_` (any number of producers, lock-free);
//   - the *outbox*, a FIFO that consumers pop from, guarded by a try-lock.
//     A consumer that finds the outbox empty takes the whole inbox with one
//     exchange and reverses it into the outbox.
// Order: FIFO per producer (and in CAS order across producers), which is
// all the scheduler needs. Workers poll it when their own queue is empty and
// every 61 scheduling ticks regardless, so outside work never starves
// behind a busy local queue.
//
// Batches. A consumer takes a fair share of the outbox at once (its size
// over the number of consumers, plus one, capped by the caller), as Go's
// globrunqget and tokio's inject batches do: the taking worker runs the
// first fiber and queues the rest in its own deque, where idle workers
// steal them. Taken one at a time, two workers fed by one submitter moved
// the consumer lock's line between them on every fiber (`pool` on 16
// cores: 6.2 M tasks/s with 1 worker, 2.1 M/s with 2). Whether workers ask
// for more than one is the runtime's choice (worker.cpp, inject_batches_pay).
//
// Why not a general MPMC queue. It was moodycamel's ConcurrentQueue. For a
// thread pool fed by one submitter (`pool`) it moved several cache lines
// between the submitter and a worker per task: its per-producer block keeps
// the producer's tail index on the same line as the consumers' counters
// (an RMW each dequeue), and eight 8-byte slots share a line that both
// sides write and read in lockstep (perf, pool at 1 worker: ~50% of the
// submitter's and a third of the worker's samples in those lines). Here a
// push writes the fiber's own record (which the worker reads anyway) and
// one word, `inbox_`; a consumer takes any number of fibers with one
// exchange.
//
// Invariants:
//   - A fiber is in the inbox or the outbox at most once, and then in no
//     other list that uses next_in_list (the yield FIFO holds only fibers
//     its worker runs; a fiber is pushed here only when made runnable).
//   - No ABA: producers only push; consumers never pop single nodes from
//     the inbox, they exchange it for null.
//   - outbox_head_ and outbox_size_ are written only under `consumer_`;
//     the head is atomic only so that probably_empty() may read it without
//     the lock. outbox_size_ counts the nodes from outbox_head_ on.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <span>

#include "fiber/fiber.hpp"
#include "platform/spinlock.hpp"

namespace weft::detail {

/// The queue over any node type with a `Node* next_in_list` member (a
/// template only so that tests can use plain nodes; the runtime uses
/// inject_queue below).
template <class Node>
class intrusive_inject_queue {
 public:
  /// Any thread, lock-free. Publishes `node` (and everything written before)
  /// to the consumer that takes it.
  void push(Node* node) noexcept {
    Node* top = inbox_.load(std::memory_order_relaxed);
    do {
      node->next_in_list = top;  // read only by the consumer that takes this inbox
      // release: pairs with take_inbox()'s acquire exchange; the record and
      // its link are visible there (later pushes' CASes continue the
      // release sequence). relaxed on failure: `top` is only re-linked.
    } while (!inbox_.compare_exchange_weak(top, node, std::memory_order_release,
                                           std::memory_order_relaxed));
  }

  /// Any thread. Takes the oldest nodes, oldest first, into `out`, and
  /// returns how many: the outbox's size over `consumers`, plus one, at
  /// most out.size() (≥ 1) and at most all. Each taken node's next_in_list
  /// is null. 0 when empty, or when another thread is taking (it takes on
  /// behalf of everyone: the caller looks elsewhere).
  /// `left_batch` is set when this call took the inbox and left part of it
  /// in the outbox: while it took, probably_empty() could read the queue as
  /// empty, so a worker may have gone to sleep on that read; the caller
  /// must notify (as Go's scheduler does after taking from its global
  /// queue), after the outbox head this call stored.
  std::size_t pop(std::size_t consumers, std::span<Node*> out, bool& left_batch) noexcept {
    left_batch = false;
    if (!consumer_.try_lock()) return 0;
    // relaxed (here and below): the lock orders the outbox; other threads
    // read the head only as probably_empty()'s hint.
    const bool took = outbox_head_.load(std::memory_order_relaxed) == nullptr && take_inbox();
    Node* node = outbox_head_.load(std::memory_order_relaxed);
    // (One asked for: no division.)
    const std::size_t share =
        node == nullptr   ? 0
        : out.size() == 1 ? 1
                          : std::min({outbox_size_ / consumers + 1, out.size(), outbox_size_});
    // One pass, unlinking as it reads: each record is touched once here (a
    // fresh inbox's oldest records are still hot from take_inbox's pass).
    for (std::size_t i = 0; i < share; ++i) {
      out[i] = node;
      node = node->next_in_list;
      out[i]->next_in_list = nullptr;
    }
    outbox_head_.store(node, std::memory_order_relaxed);
    outbox_size_ -= share;
    left_batch = took && node != nullptr;
    consumer_.unlock();
    return share;
  }

  /// Cheap emptiness hint (may be stale either way). Any thread. A push
  /// that the idle protocol orders before the call is seen (idle.hpp, "No
  /// lost wake-up"), except while a pop() moves the inbox to the outbox:
  /// that pop() reports it (`left_batch`) and its caller notifies. Nodes a
  /// pop() took are the caller's to make visible (worker::take_injected
  /// notifies when it moves a batch into an empty deque).
  [[nodiscard]] bool probably_empty() const noexcept {
    return inbox_.load(std::memory_order_relaxed) == nullptr &&
           outbox_head_.load(std::memory_order_relaxed) == nullptr;
  }

 private:
  // Moves every fiber in the inbox to the (empty) outbox, oldest first;
  // false if the inbox was empty. `consumer_` held.
  bool take_inbox() noexcept {
    if (inbox_.load(std::memory_order_relaxed) == nullptr) return false;
    // acquire: pairs with every push's release CAS (one release sequence).
    Node* newest = inbox_.exchange(nullptr, std::memory_order_acquire);
    Node* oldest_first = nullptr;
    std::size_t size = 0;
    while (newest != nullptr) {
      Node* older = newest->next_in_list;
      newest->next_in_list = oldest_first;
      oldest_first = newest;
      newest = older;
      ++size;
    }
    outbox_head_.store(oldest_first, std::memory_order_relaxed);
    outbox_size_ = size;
    return true;
  }

  // Producers' line: every push CASes it.
  alignas(64) std::atomic<Node*> inbox_{nullptr};
  // Consumers' line.
  alignas(64) spinlock consumer_;
  std::atomic<Node*> outbox_head_{nullptr};  // written under consumer_
  std::size_t outbox_size_ = 0;              // under consumer_
};

using inject_queue = intrusive_inject_queue<fiber>;

}  // namespace weft::detail
