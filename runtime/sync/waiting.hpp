// waiting: the one wait-queue mechanism under every synchronization object.
//
// Vocabulary. A *parker* is one waiting operation (one lock(), one recv(),
// one select()); it lives on the waiter's stack. It is linked into one or
// more wait lists through *waiter nodes* (a select() waits on several
// channels at once, one node each). Each wait_list is guarded by its own
// spinlock, which also guards the state of the object that embeds it (the
// mutex's queue, the channel's buffer).
//
// The claim. A parker's `outcome` starts at `waiting`. Whoever ends the wait
// — a waker acting through one of the nodes, or the timer — must first win
// a CAS of `outcome` from `waiting` to its own value (`1 + node index`, or
// `timed_out`). Exactly one CAS wins: a parker is woken exactly once, never
// twice, and a select performs exactly one case. A waker that loses the CAS
// found a stale node (the parker was claimed elsewhere) and just unlinks it.
//
// The claim without an RMW. Most waits have one node and no deadline: then
// the only claimers are the wakers of one list, which hold its lock (so one
// at a time), and, for a fiber, a canceller (cancellation.hpp), which always
// runs heavy_fence() before it claims. For such a parker (`plain_claim`) a
// waker claims with plain accesses under an asymmetric handshake with the
// canceller (platform/asymmetric_fence.hpp), saving the CAS, a locked
// instruction, on every hand-off:
//   waker:     claiming = 1 ; compiler barrier ; the fiber's interrupters
//              == 0 ? (outcome == waiting ? outcome = 1 + index) : CAS ;
//              claiming = 0 (release)
//   canceller: interrupters += 1 ; heavy_fence() ; wait while claiming ;
//              CAS outcome
// A waker whose `claiming` store comes before the fence's barrier point on
// its CPU is waited out by the canceller, whose CAS then fails if the waker
// claimed; one whose store comes after it sees the canceller counted and
// uses the CAS. A canceller that was done before reads as interrupters 0
// with its CAS visible (acquire, against its release decrement).
//
// The lost-wake-up window. The waiter enqueues its nodes with the lists'
// locks held and parks with a commit step (park.hpp) that releases those
// locks only after the fiber has switched out; so no waker can reach a node
// (and claim and resume the parker) while the fiber is still running. A
// plain thread blocks on its futex word instead, which a wake may precede
// harmlessly.
//
// Timeouts. A timed wait arms a timer in the commit step. The timer's fire
// callback runs under the timer heap's lock and CASes `timed_out`. The woken
// parker always cancels its timer (timer_heap::remove, which takes the heap
// lock: when it returns, no fire callback is still looking at the parker)
// and unlinks every node still linked, under each list's lock: when the wait
// returns, no list, heap or waker refers to the parker any more, and no
// stale waiter is left behind. (The node a waker claimed through needs no
// lock: every claim goes through claim_first(), which unlinks the node
// before its CAS, so the parker's acquire load of `outcome` sees it
// unlinked.)
//
// Cancellation. A fiber's wait is also claimable by a canceller or a
// timeout scope (fiber/cancellation.hpp): the parker's `hook` CASes
// `cancelled`. wait_claimed() returns that outcome like `timed_out`; the
// caller undoes what a timed-out wait undoes, then throws weft::cancelled.
// No hand-off happened (the claim is exclusive), so nothing is lost.
//
// Hand-off. A waker that wins the claim may do the waiter's work for it,
// under the list lock, before waking it: move a value into the receiver's
// storage, grant the lock, set `status`. The parker reads those after it is
// woken; the wake (queue push/pop, or the futex word's release/acquire)
// orders them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "fiber/cancellation.hpp"
#include "scheduler/timers.hpp"
#include "weft/detail/wait_list.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

struct fiber;

/// One waiting operation.
struct parker {
  static constexpr std::uint32_t waiting = 0;
  static constexpr std::uint32_t timed_out = 0xFFFF'FFFF;
  static constexpr std::uint32_t cancelled = 0xFFFF'FFFE;

  explicit parker(fiber* self) noexcept : f(self) {}

  fiber* const f;                               ///< nullptr: a plain thread
  std::atomic<std::uint32_t> outcome{waiting};  ///< see "The claim"
  /// One node, no deadline, membarrier available: wakers claim without an
  /// RMW (see "The claim without an RMW"). Set before the wait is reachable.
  bool plain_claim = false;
  std::atomic<bool> claiming{false};     ///< a plain claim is in progress
  std::atomic<std::uint32_t> signal{0};  ///< plain thread: 1 once woken
  timer_entry timer;                     ///< armed for timed waits
  /// The heap `timer` was added to (by the park commit, on the worker the
  /// fiber parked on); read after the wake, which orders it.
  timer_heap* armed_on = nullptr;
  /// Claims the wait for cancellation (fibers only).
  cancel_hook hook{&claim_for_cancellation};

  static bool claim_for_cancellation(cancel_hook* self) noexcept;
};

/// One parker's entry in one wait list.
struct waiter_node {
  waiter_node() noexcept = default;
  explicit waiter_node(parker& p, std::uint32_t case_index = 0) noexcept
      : owner(&p), index(case_index) {}

  parker* owner = nullptr;
  wait_list* home = nullptr;  ///< the list it was pushed into; set before, never changed after
  /// The list whose lock guards `home` (itself, unless an object keeps
  /// several lists under one lock, as a channel does).
  wait_list* guard = nullptr;
  waiter_node* prev = nullptr;  ///< guarded by guard's lock
  waiter_node* next = nullptr;  ///< guarded by guard's lock
  bool linked = false;          ///< guarded by guard's lock
  std::uint32_t index = 0;      ///< select case index (0 for single waits)
  std::uint32_t status = 0;     ///< set by the claiming waker (meaning: per object)
  std::uint64_t tag = 0;        ///< set by the waiter (meaning: per object)
  void* payload = nullptr;      ///< set by the waiter (e.g. the value to send, or room for it)
};

/// lock()'s wait while another thread holds the list's lock.
void lock_contended(wait_list& list) noexcept;

/// The list lock (the object's lock). Any thread; never held across a
/// switch except through park commit. Inline: a channel round trip takes
/// it four times (pingpong: 15 instructions a call out of line).
inline void lock(wait_list& list) noexcept {
  // acquire: pairs with the release in unlock(); the object's state written
  // under the lock is visible.
  if (list.lock_word.exchange(1, std::memory_order_acquire) != 0) [[unlikely]]
    lock_contended(list);
}
inline void unlock(wait_list& list) noexcept { list.lock_word.store(0, std::memory_order_release); }

/// RAII holder of a list lock.
class list_guard {
 public:
  explicit list_guard(wait_list& list) noexcept : list_(&list) { lock(list); }
  ~list_guard() {
    if (list_) unlock(*list_);
  }
  list_guard(const list_guard&) = delete;
  list_guard& operator=(const list_guard&) = delete;
  /// Gives up ownership without unlocking (the lock is released elsewhere,
  /// e.g. by a park commit).
  void release() noexcept { list_ = nullptr; }

 private:
  wait_list* list_;
};

// ---- with the list's lock held

/// Links `node` at the tail (or the head) of `list`; `guard` is the list
/// whose lock guards `list` (default: `list` itself).
void push_back(wait_list& list, waiter_node& node, wait_list* guard = nullptr) noexcept;
void push_front(wait_list& list, waiter_node& node) noexcept;
/// Unlinks `node` from `list` (its home) if it is still linked.
void unlink(wait_list& list, waiter_node& node) noexcept;
/// True if no node is linked (stale nodes count: check with a claim).
[[nodiscard]] inline bool empty(const wait_list& list) noexcept { return list.head == nullptr; }
/// The first node whose parker this call claims (CAS waiting -> 1 + index),
/// unlinked; stale nodes met on the way are unlinked too. nullptr if none.
waiter_node* claim_first(wait_list& list) noexcept;
/// A waker's claim of `p` for `value` (1 + a node index); `interrupters` is
/// the fiber's count of cancellers at work (nullptr for a plain thread).
/// True if it won. claim_first's step, exposed for the handshake's test.
bool claim_for_waker(parker& p, std::uint32_t value,
                     const std::atomic<std::uint16_t>* interrupters) noexcept;
/// Claims every claimable node, unlinked, chained through `next` in FIFO
/// order (stale nodes are dropped). nullptr if none.
waiter_node* claim_all(wait_list& list) noexcept;
/// Appends a claimed node to a chain built like claim_all's.
void append_claimed(waiter_node*& chain_head, waiter_node**& chain_tail,
                    waiter_node* node) noexcept;
/// The first node that could still be claimed, without claiming it.
waiter_node* peek_claimable(wait_list& list) noexcept;

// ---- after the list lock is released

/// Resumes a claimed parker. The parker may be gone once this returns.
void wake(parker& p) noexcept;
/// Wakes every parker of a chain from claim_all/append_claimed.
void wake_chain(waiter_node* chain) noexcept;

/// Waits for `p` to be claimed. Precondition: every list in `locked` is
/// locked by the caller and holds one of p's nodes. The locks are released
/// (after the fiber switched out, for a fiber). Returns p's outcome, after
/// cancelling the timer and unlinking every node in `nodes` that is still
/// linked: a node's index + 1, timed_out, or (fibers only) cancelled.
/// `deadline_ns` is steady-clock ns, or no_deadline.
std::uint32_t wait_claimed(parker& p, wait_list* const* locked, std::size_t locked_count,
                           waiter_node* nodes, std::size_t node_count, std::int64_t deadline_ns,
                           wait_kind why, const void* object);

/// wait_claimed() for the commonest wait: one list, one node, no deadline
/// (every channel round trip, every contended lock()). The same protocol
/// without the loops over lists and nodes and without the timer: 21
/// instructions fewer per park (pingpong, 2 workers).
std::uint32_t wait_claimed_untimed(parker& p, wait_list& locked, waiter_node& node, wait_kind why,
                                   const void* object);

/// The common case: one list, one node.
inline std::uint32_t wait_claimed(parker& p, wait_list& locked, waiter_node& node,
                                  std::int64_t deadline_ns, wait_kind why, const void* object) {
  if (deadline_ns == no_deadline) return wait_claimed_untimed(p, locked, node, why, object);
  wait_list* lists[] = {&locked};
  return wait_claimed(p, lists, 1, &node, 1, deadline_ns, why, object);
}

/// The calling fiber, or nullptr on a plain thread (for parker construction).
fiber* current_waiter() noexcept;

/// Converts a time point of the steady clock to the deadline scale.
std::int64_t to_deadline(std::chrono::steady_clock::time_point tp) noexcept;

}  // namespace weft::detail
