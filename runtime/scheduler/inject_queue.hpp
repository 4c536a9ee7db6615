// inject_queue: fibers made runnable from outside the runtime's workers
// (spawns and wake-ups from plain threads, other runtimes, the I/O poller).
//
// An intrusive FIFO linked through fiber::next_in_list, in the manner of
// Vyukov's intrusive MPSC queue, with a consumers' try-lock so that any
// worker may take from it:
//   - a producer claims the tail with one exchange on `tail_` and then
//     links the previous tail to its node (or, if the queue was empty,
//     makes its node the head): wait-free, never retried;
//   - a consumer, holding `consumer_`, takes from `head_` along the links,
//     oldest first. It touches `tail_` only to take the last linked node
//     (a CAS of the tail back to null), so while the queue is backed up the
//     producers' line stays with the producers.
// Order: FIFO per producer (and in exchange order across producers), which
// is all the scheduler needs. Workers poll it when their own queue is empty
// and every 61 scheduling ticks regardless, so outside work never starves
// behind a busy local queue.
//
// A pushed node is visible to consumers only once linked: between a
// producer's exchange and its link the nodes after the previous tail wait
// (a few instructions; longer only if the producer is preempted right
// there). probably_empty() reads such a queue as not empty (its head is
// an older node), so workers keep looking instead of sleeping; and the
// producer notifies after linking.
//
// Batches. A consumer may take several linked fibers at once (up to what
// the caller asks for), as Go's globrunqget and tokio's inject batches do:
// the taking worker runs the first fiber and queues the rest in its own
// deque, where idle workers steal them. Taken one at a time, two workers
// fed by one submitter moved the consumer lock's line between them on
// every fiber (`pool` on 16 cores: 6.2 M tasks/s with 1 worker, 2.1 M/s
// with 2). Whether workers ask for more than one is the runtime's choice
// (worker.cpp, inject_batches_pay).
//
// Why this shape. It was moodycamel's ConcurrentQueue: for a thread pool
// fed by one submitter (`pool`) it moved several cache lines between the
// submitter and a worker per task (its per-producer tail index shares a
// line with the consumers' counters, and eight slots share a line that
// both sides write and read in lockstep). Then a LIFO inbox (CAS push) that
// a consumer exchanged for null and reversed: the reversal was a chain of
// dependent misses through records the submitter had just written, under
// the lock (half of the workers' take time at 2 workers), and every take
// moved the producers' line. Here a push writes the fiber's own record (its
// link), the previous record's link, and one exchanged word; a consumer
// reads each record once, in order, and prefetches the next while the
// worker runs the one it took.
//
// Invariants:
//   - A fiber is in the queue at most once, and then in no other list that
//     uses next_in_list (the yield FIFO holds only fibers its worker runs;
//     a fiber is pushed here only when made runnable).
//   - `tail_` is null exactly when the queue is empty and no push is under
//     way; otherwise it is the newest node, whose link is null.
//   - `head_` is the oldest node not yet taken, or null when the queue is
//     empty or its first push has not stored it yet. Producers store it
//     only when their exchange found `tail_` null (then no node is
//     reachable and no consumer writes it); consumers write it under
//     `consumer_`.
//   - A node is unlinked from the queue only when its successor is linked,
//     or when it is the tail and a consumer's CAS moves `tail_` from it to
//     null (so a producer never links to a node that was taken).
//   - No ABA on that CAS: a node still in the queue cannot be pushed again.
#pragma once

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
  /// Any thread, wait-free. Publishes `node` (and everything written
  /// before) to the consumer that takes it.
  void push(Node* node) noexcept {
    // relaxed: published by the exchange below, before anyone links to it.
    link(*node).store(nullptr, std::memory_order_relaxed);
    // acq_rel. release: the node and its null link reach the next producer,
    // which links to it (its null store cannot land after that link), and
    // the consumer whose CAS takes it as the tail. acquire: the previous
    // producer's null link to `prev` is before our link to it; and a
    // consumer's head_ = null before its CAS of the tail to null is before
    // our head_ store below.
    Node* prev = tail_.exchange(node, std::memory_order_acq_rel);
    if (prev != nullptr) {
      // release: pairs with the consumer's acquire load of this link; the
      // node's record is visible there.
      link(*prev).store(node, std::memory_order_release);
    } else {
      // release: pairs with the consumer's acquire load of head_.
      head_.store(node, std::memory_order_release);
    }
  }

  /// Any thread. Takes the oldest linked nodes, oldest first, into `out`
  /// (at most out.size() ≥ 1), and returns how many. Each taken node's
  /// next_in_list is null. 0 when empty, when the oldest node's successor
  /// is being linked, or when another thread is taking (it takes on behalf
  /// of everyone: the caller looks elsewhere).
  std::size_t pop(std::span<Node*> out) noexcept {
    if (!consumer_.try_lock()) return 0;
    std::size_t taken = 0;
    // acquire: pairs with the store of a producer that found the queue
    // empty. (Later values are consumers' own stores, ordered by the lock.)
    Node* node = head_.load(std::memory_order_acquire);
    while (node != nullptr && taken < out.size()) {
      // acquire: pairs with the producer's release store of the link.
      Node* next = link(*node).load(std::memory_order_acquire);
      if (next == nullptr) {
        if (detach_last(*node)) {
          // The queue is empty and head_ null: a producer may store it
          // from now on, so it is not ours to write any more.
          out[taken++] = node;
          node = nullptr;
          break;
        }
        // Its successor is being linked: take it if the link has arrived.
        next = link(*node).load(std::memory_order_acquire);
        if (next == nullptr) break;
      }
      out[taken++] = node;
      node = next;
      // relaxed: under the lock; others read it only as probably_empty()'s hint.
      head_.store(node, std::memory_order_relaxed);
    }
    consumer_.unlock();
    // The next oldest, for the next take (by this worker, most likely): its
    // record's line arrives while the worker runs what it took.
    if (node != nullptr) __builtin_prefetch(node);
    for (std::size_t i = 0; i < taken; ++i) link(*out[i]).store(nullptr, std::memory_order_relaxed);
    return taken;
  }

  /// Cheap emptiness hint (may be stale either way). Any thread. Reads the
  /// consumers' head only, so pollers leave the producers' line alone. A
  /// push that the idle protocol orders before the call is seen (idle.hpp,
  /// "No lost wake-up"): the producer stores the head (or the link to its
  /// node, behind a head that is not null) before it notifies. The head is
  /// null with nodes queued only inside a push (before that store: the push
  /// notifies after it) and inside a consumer's detach_last (that consumer
  /// finds the node again, under the lock, or took it).
  [[nodiscard]] bool probably_empty() const noexcept {
    return head_.load(std::memory_order_relaxed) == nullptr;
  }

 private:
  static std::atomic_ref<Node*> link(Node& node) noexcept {
    return std::atomic_ref<Node*>(node.next_in_list);
  }

  // `last` is the oldest node and its link was null: takes it by moving the
  // tail from it to null. False if a producer has claimed the tail since
  // (it is about to link `last`): then `last` stays, unless its link has
  // arrived meanwhile. `consumer_` held.
  bool detach_last(Node& last) noexcept {
    // relaxed: the release CAS below carries it to the next producer, which
    // stores head_ only after its exchange reads that CAS.
    head_.store(nullptr, std::memory_order_relaxed);
    Node* expected = &last;
    // release: pairs with the next push's acquire exchange (see push()).
    // relaxed on failure: the link is read with acquire below.
    if (tail_.compare_exchange_strong(expected, nullptr, std::memory_order_release,
                                      std::memory_order_relaxed)) {
      return true;
    }
    // A producer's exchange found `last` as its predecessor, so it links
    // to it and never stores head_: restoring it here races with nobody.
    head_.store(&last, std::memory_order_relaxed);
    return false;
  }

  // Producers' line: every push exchanges it.
  alignas(64) std::atomic<Node*> tail_{nullptr};
  // Consumers' line.
  alignas(64) spinlock consumer_;
  std::atomic<Node*> head_{nullptr};
};

using inject_queue = intrusive_inject_queue<fiber>;

}  // namespace weft::detail
