// The wait-queue mechanism. See waiting.hpp for the protocol.
#include "sync/waiting.hpp"

#include <chrono>

#include "fiber/fiber.hpp"
#include "platform/futex.hpp"
#include "platform/spinlock.hpp"
#include "scheduler/park.hpp"
#include "scheduler/worker.hpp"

namespace weft::detail {

namespace {

// The timer of a timed wait: claim the parker for the timeout, wake it.
// Runs under the timer heap's lock (see timers.hpp).
void on_wait_timeout(timer_entry* entry) noexcept {
  parker* p = reinterpret_cast<parker*>(reinterpret_cast<char*>(entry) - offsetof(parker, timer));
  std::uint32_t expected = parker::waiting;
  // acq_rel: exactly one claimer wins; release publishes nothing here, acquire
  // keeps the wake below after the win.
  if (p->outcome.compare_exchange_strong(expected, parker::timed_out, std::memory_order_acq_rel)) {
    wake(*p);
  }
}

struct park_commit_args {
  parker* p;
  wait_list* const* locked;
  std::size_t locked_count;
};

// Runs after the waiting fiber has switched out (park.hpp): the timer is
// armed, the wait published to cancellers, then the lists are unlocked, so
// a waker can only claim the parker from now on. The timer or a canceller
// may claim it earlier: the woken fiber waits for settle() before it looks
// at the parker (cancellation.hpp).
bool commit_wait(fiber* parked, void* arg) noexcept {
  // Copy what we need first: `arg` lives on the parked fiber's stack.
  const park_commit_args a = *static_cast<park_commit_args*>(arg);
  if (a.p->timer.deadline_ns != no_deadline) {
    worker* w = worker::current();
    a.p->armed_on = &w->timers();
    w->add_timer(&a.p->timer);
  }
  const bool waits = publish_cancellable_wait(*parked, a.p->hook);
  for (std::size_t i = 0; i < a.locked_count; ++i) unlock(*a.locked[i]);
  settle(a.p->hook);
  return waits;
}

struct untimed_commit_args {
  parker* p;
  wait_list* locked;
};

// commit_wait for wait_claimed_untimed: no timer to arm, one list to unlock.
bool commit_untimed_wait(fiber* parked, void* arg) noexcept {
  const untimed_commit_args a = *static_cast<untimed_commit_args*>(arg);  // as commit_wait
  const bool waits = publish_cancellable_wait(*parked, a.p->hook);
  unlock(*a.locked);
  settle(a.p->hook);
  return waits;
}

void block_thread(parker& p, std::int64_t deadline_ns) noexcept {
  for (;;) {
    // acquire: pairs with the release store in wake(); hand-offs are visible.
    if (p.signal.load(std::memory_order_acquire) != 0) return;
    if (deadline_ns == no_deadline) {
      futex_wait(p.signal, 0);
      continue;
    }
    const std::chrono::nanoseconds rest(deadline_ns - steady_now_ns());
    if (rest.count() > 0) {
      futex_wait(p.signal, 0, &rest);
      continue;
    }
    std::uint32_t expected = parker::waiting;
    if (p.outcome.compare_exchange_strong(expected, parker::timed_out, std::memory_order_acq_rel)) {
      return;  // timed out: nobody will signal
    }
    deadline_ns = no_deadline;  // a waker claimed us first: its signal is on its way
  }
}

}  // namespace

bool parker::claim_for_cancellation(cancel_hook* self) noexcept {
  parker* p = reinterpret_cast<parker*>(reinterpret_cast<char*>(self) - offsetof(parker, hook));
  // After the interrupter's heavy fence (or in the fiber's own park commit,
  // before any waker can reach the wait): a waker in a plain claim is
  // waited out, and its claim then fails ours (see "The claim without an
  // RMW"). acquire: pairs with the waker's release store; its outcome is seen.
  if (p->claiming.load(std::memory_order_acquire)) [[unlikely]] {
    spin_backoff backoff;
    while (p->claiming.load(std::memory_order_acquire)) backoff.pause();
  }
  std::uint32_t expected = waiting;
  // acq_rel: as every claim (see "The claim").
  return p->outcome.compare_exchange_strong(expected, cancelled, std::memory_order_acq_rel);
}

void lock_contended(wait_list& list) noexcept {
  // Spins on a plain load and retries the exchange only when the lock looks
  // free (no line ping-pong). acquire: as lock()'s.
  spin_backoff backoff;
  do {
    while (list.lock_word.load(std::memory_order_relaxed) != 0) backoff.pause();
  } while (list.lock_word.exchange(1, std::memory_order_acquire) != 0);
}

void push_back(wait_list& list, waiter_node& node, wait_list* guard) noexcept {
  node.home = &list;
  node.guard = guard ? guard : &list;
  node.linked = true;
  node.next = nullptr;
  node.prev = list.tail;
  if (list.tail) {
    list.tail->next = &node;
  } else {
    list.head = &node;
  }
  list.tail = &node;
  ++list.size;
}

void push_front(wait_list& list, waiter_node& node) noexcept {
  node.home = &list;
  node.guard = &list;
  node.linked = true;
  node.prev = nullptr;
  node.next = list.head;
  if (list.head) {
    list.head->prev = &node;
  } else {
    list.tail = &node;
  }
  list.head = &node;
  ++list.size;
}

void unlink(wait_list& list, waiter_node& node) noexcept {
  if (!node.linked || node.home != &list) return;
  if (node.prev) {
    node.prev->next = node.next;
  } else {
    list.head = node.next;
  }
  if (node.next) {
    node.next->prev = node.prev;
  } else {
    list.tail = node.prev;
  }
  node.prev = node.next = nullptr;
  node.linked = false;
  --list.size;
}

bool claim_for_waker(parker& p, std::uint32_t value,
                     const std::atomic<std::uint16_t>* interrupters) noexcept {
  std::uint32_t expected = parker::waiting;
  if (!p.plain_claim) {
    // acq_rel: the winner's later hand-off is ordered after the win; see
    // waiting.hpp for why one winner.
    return p.outcome.compare_exchange_strong(expected, value, std::memory_order_acq_rel);
  }
  // The handshake of "The claim without an RMW" (waiting.hpp).
  p.claiming.store(true, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  bool won;
  // acquire: pairs with a canceller's release decrement; its claim is seen.
  if (interrupters == nullptr || interrupters->load(std::memory_order_acquire) == 0) [[likely]] {
    won = p.outcome.load(std::memory_order_relaxed) == parker::waiting;
    // release: as the CAS's; the node's unlinking is visible to the
    // parker's acquire load in wait_claimed().
    if (won) p.outcome.store(value, std::memory_order_release);
  } else {
    won = p.outcome.compare_exchange_strong(expected, value, std::memory_order_acq_rel);
  }
  // release: a canceller waiting for this sees our outcome.
  p.claiming.store(false, std::memory_order_release);
  return won;
}

waiter_node* claim_first(wait_list& list) noexcept {
  while (waiter_node* node = list.head) {
    // unlink() of the head, which is linked and at home here (a node is
    // unlinked only from its home, and a linked one stays there).
    list.head = node->next;
    if (list.head) {
      list.head->prev = nullptr;
    } else {
      list.tail = nullptr;
    }
    node->next = nullptr;
    node->linked = false;
    --list.size;
    parker& p = *node->owner;
    if (claim_for_waker(p, 1 + node->index, p.f ? &p.f->interrupters : nullptr)) return node;
    // Stale: claimed by its timer or through another list; its owner is
    // waking up and will find the node already unlinked.
  }
  return nullptr;
}

void append_claimed(waiter_node*& chain_head, waiter_node**& chain_tail,
                    waiter_node* node) noexcept {
  node->next = nullptr;  // unlinked: the link is ours to reuse
  *chain_tail = node;
  chain_tail = &node->next;
  (void)chain_head;
}

waiter_node* claim_all(wait_list& list) noexcept {
  waiter_node* head = nullptr;
  waiter_node** tail = &head;
  while (waiter_node* node = claim_first(list)) append_claimed(head, tail, node);
  return head;
}

void wake_chain(waiter_node* chain) noexcept {
  while (chain) {
    waiter_node* next = chain->next;  // read before the wake: the node may vanish
    wake(*chain->owner);
    chain = next;
  }
}

waiter_node* peek_claimable(wait_list& list) noexcept {
  for (waiter_node* node = list.head; node; node = node->next) {
    if (node->owner->outcome.load(std::memory_order_acquire) == parker::waiting) return node;
  }
  return nullptr;
}

void wake(parker& p) noexcept {
  if (p.f) {
    make_ready(p.f);
    return;
  }
  // release: publishes the hand-off; pairs with block_thread()'s acquire.
  // The parker may return (and vanish) right after this store; futex_wake
  // uses only the address.
  p.signal.store(1, std::memory_order_release);
  futex_wake(p.signal, 1);
}

std::uint32_t wait_claimed(parker& p, wait_list* const* locked, std::size_t locked_count,
                           waiter_node* nodes, std::size_t node_count, std::int64_t deadline_ns,
                           wait_kind why, const void* object) {
  p.timer.deadline_ns = deadline_ns;
  p.timer.fire = &on_wait_timeout;
  // Every list is still locked: no waker sees the parker before this.
  // (The flag cancellation.hpp keeps: a canceller fences with membarrier.)
  p.plain_claim = node_count == 1 && deadline_ns == no_deadline && fiber_fence_is_compiler_barrier;
  if (p.f) {
    park_commit_args args{&p, locked, locked_count};
    park_current(&commit_wait, &args, why, object);
  } else {
    for (std::size_t i = 0; i < locked_count; ++i) unlock(*locked[i]);
    block_thread(p, deadline_ns);
  }
  // Woken (claimed by a waker, the timer or a canceller). Leave nothing behind.
  if (p.f) withdraw_cancellable_wait(*p.f, p.hook);
  if (p.armed_on) {
    // On the heap of the worker the fiber parked on, perhaps not this one.
    // remove() takes that heap's lock, under which fire callbacks run: once
    // it returns, the timer no longer touches `p`.
    p.armed_on->remove(&p.timer);
  }
  // acquire: pairs with the claimer's CAS or release store; its unlinking
  // of the node it claimed through is visible.
  const std::uint32_t outcome = p.outcome.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < node_count; ++i) {
    waiter_node& node = nodes[i];
    // The node a waker claimed through is unlinked already: claim_first()
    // unlinks before its CAS, the only way a waker claims. Not locking the
    // list again saves two locked instructions per hand-off and a visit to
    // a line the other side may be using.
    if (outcome == 1 + node.index) continue;
    list_guard hold(*node.guard);
    unlink(*node.home, node);
  }
  return outcome;
}

std::uint32_t wait_claimed_untimed(parker& p, wait_list& locked, waiter_node& node, wait_kind why,
                                   const void* object) {
  // As wait_claimed() with deadline_ns == no_deadline: the timer is never
  // armed (its deadline stays no_deadline, armed_on null), and one node
  // makes the claim plain.
  p.plain_claim = fiber_fence_is_compiler_barrier;
  if (p.f) {
    untimed_commit_args args{&p, &locked};
    park_current(&commit_untimed_wait, &args, why, object);
    withdraw_cancellable_wait(*p.f, p.hook);
  } else {
    unlock(locked);
    block_thread(p, no_deadline);
  }
  // acquire: as in wait_claimed(); the claimer's unlinking is visible.
  const std::uint32_t outcome = p.outcome.load(std::memory_order_acquire);
  if (outcome != 1 + node.index) {  // cancelled: the node may still be linked
    list_guard hold(*node.guard);
    unlink(*node.home, node);
  }
  return outcome;
}

fiber* current_waiter() noexcept { return current_fiber(); }

std::int64_t to_deadline(std::chrono::steady_clock::time_point tp) noexcept {
  if (tp == std::chrono::steady_clock::time_point::max()) return no_deadline;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
}

}  // namespace weft::detail
