// weft::latch, weft::barrier, weft::wait_group and thread_pool's task count:
// objects whose waiters all wake together when a count reaches zero. Each keeps its waiters under
// the wait list's lock; latch and wait_group read their counts without the
// lock on the fast paths, hence the atomics.
#include <stdexcept>

#include "sync/waiting.hpp"
#include "weft/barrier.hpp"
#include "weft/detail/task_tally.hpp"
#include "weft/latch.hpp"
#include "weft/wait_group.hpp"

namespace weft {

namespace {

// With `list` locked: parks the caller until a count_down/phase end claims
// it. A cancelled waiter leaves (the count is not its to change back: a
// barrier arrival stays counted).
void wait_for_release(detail::wait_list& list, wait_kind why, const void* object) {
  detail::parker p(detail::current_waiter());
  detail::waiter_node node(p);
  detail::push_back(list, node);
  if (detail::wait_claimed(p, list, node, detail::no_deadline, why, object) ==
      detail::parker::cancelled) {
    detail::throw_cancelled();
  }
}

// With `list` locked: claims every waiter, unlocks, wakes them.
void release_all_and_unlock(detail::wait_list& list) noexcept {
  detail::waiter_node* all = detail::claim_all(list);
  detail::unlock(list);
  detail::wake_chain(all);
}

}  // namespace

// ---- latch

latch::latch(std::ptrdiff_t count) : count_(count) {
  if (count < 0) throw std::invalid_argument("weft::latch: count must be >= 0");
}

void latch::count_down(std::ptrdiff_t n) {
  if (n < 0) throw std::logic_error("weft::latch::count_down: n must be >= 0");
  detail::lock(waiters_);
  const std::ptrdiff_t left = count_.load(std::memory_order_relaxed);
  if (n > left) {
    detail::unlock(waiters_);
    throw std::logic_error("weft::latch::count_down: n exceeds the count left");
  }
  // release: pairs with try_wait()'s acquire; work done before counting down
  // happens-before what a waiter does after the latch opened.
  count_.store(left - n, std::memory_order_release);
  if (left - n == 0 && n > 0) {
    release_all_and_unlock(waiters_);
  } else {
    detail::unlock(waiters_);
  }
}

bool latch::try_wait() const noexcept {
  // Under the lock, like wait(): true only once the count_down that reached
  // zero is done with the latch.
  detail::list_guard hold(waiters_);
  return count_.load(std::memory_order_acquire) == 0;
}

void latch::wait() {
  // Always through the lock (count_down changes the count under it): when
  // wait() returns, the count_down that opened the latch is done with it,
  // so the latch may be destroyed.
  detail::lock(waiters_);
  if (count_.load(std::memory_order_relaxed) == 0) {
    detail::unlock(waiters_);
    return;
  }
  wait_for_release(waiters_, wait_kind::latch, this);
}

void latch::arrive_and_wait(std::ptrdiff_t n) {
  count_down(n);
  wait();
}

// ---- barrier

barrier::barrier(std::ptrdiff_t count) : expected_(count), remaining_(count) {
  if (count < 0) throw std::invalid_argument("weft::barrier: count must be >= 0");
}

void barrier::complete_phase_locked() {
  remaining_ = expected_;
  ++phase_;
  release_all_and_unlock(waiters_);
}

void barrier::arrive_and_wait() {
  detail::lock(waiters_);
  if (remaining_ <= 0) {
    detail::unlock(waiters_);
    throw std::logic_error("weft::barrier::arrive_and_wait: more arrivals than participants");
  }
  if (--remaining_ == 0) {
    complete_phase_locked();
    return;
  }
  wait_for_release(waiters_, wait_kind::barrier, this);
}

void barrier::arrive_and_drop() {
  detail::lock(waiters_);
  if (remaining_ <= 0 || expected_ <= 0) {
    detail::unlock(waiters_);
    throw std::logic_error("weft::barrier::arrive_and_drop: more arrivals than participants");
  }
  --expected_;
  if (--remaining_ == 0) {
    complete_phase_locked();
    return;
  }
  detail::unlock(waiters_);
}

// ---- wait_group
//
// The counter is atomic so add()/done() stay off the lock, except a change
// that reaches zero: it is made with the lock held (and wakes the waiters).
// A waiter checks the counter under the lock and stays enqueued (the lock
// held) until it parked, so a change to zero after its check finds it. And
// since the change to zero holds the lock until its last access to the
// object, wait() — which takes the lock once even when the counter is
// already zero — returns only after that access: the usual
// "wait(), then destroy the wait_group" is safe.

void wait_group::add(std::ptrdiff_t n) {
  if (n > 0) {
    // From a count >= 0 an increase reaches neither zero nor below, so it
    // needs no look first: one RMW, where a load and a CAS take the line
    // twice while others count down. relaxed: an increase publishes nothing,
    // and as an RMW it continues the release sequence of the decreases
    // before it.
    counter_.fetch_add(n, std::memory_order_relaxed);
    return;
  }
  std::ptrdiff_t c = counter_.load(std::memory_order_relaxed);
  for (;;) {
    if (c + n < 0) {
      throw std::logic_error("weft::wait_group: counter would go negative (done() without add()?)");
    }
    if (c + n == 0 && n != 0) break;  // the change to zero: under the lock, below
    // acq_rel: release publishes the task's work to whoever sees zero later.
    if (counter_.compare_exchange_weak(c, c + n, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
      return;
    }
  }
  detail::lock(waiters_);
  c = counter_.fetch_add(n, std::memory_order_acq_rel);
  if (c + n == 0) {
    release_all_and_unlock(waiters_);
    return;
  }
  // Raced with another add: not zero after all (or now negative: undo).
  if (c + n < 0) {
    counter_.fetch_sub(n, std::memory_order_relaxed);
    detail::unlock(waiters_);
    throw std::logic_error("weft::wait_group: counter would go negative (done() without add()?)");
  }
  detail::unlock(waiters_);
}

void wait_group::wait() {
  detail::lock(waiters_);
  // acquire: pairs with add()'s release; the tasks' work is visible.
  if (counter_.load(std::memory_order_acquire) == 0) {
    detail::unlock(waiters_);
    return;
  }
  wait_for_release(waiters_, wait_kind::wait_group, this);
}

// ---- detail::task_tally (thread_pool's count; the protocol is in its header)

namespace detail {

void task_tally::wait() {
  lock(waiters_);
  // seq_cst RMW, then all_finished()'s seq_cst load: see finished().
  waiting_.exchange(true, std::memory_order_seq_cst);
  if (all_finished()) {
    // Nobody else parked: clear it again, or every finish would go on
    // reading started_ (the submitters' line) until the next release.
    // relaxed: under the lock, which every setter holds.
    if (waiters_.head == nullptr) waiting_.store(false, std::memory_order_relaxed);
    unlock(waiters_);
    return;
  }
  wait_for_release(waiters_, wait_kind::wait_group, this);
}

void task_tally::finished_while_waited() noexcept {
  // A look without the lock first: while a pool waits for a backlog, every
  // finish comes here.
  if (!all_finished()) return;
  lock(waiters_);
  if (!all_finished()) {  // a task started meanwhile: its finish comes back here
    unlock(waiters_);
    return;
  }
  // relaxed: under the lock, which every setter holds.
  waiting_.store(false, std::memory_order_relaxed);
  release_all_and_unlock(waiters_);
}

}  // namespace detail

}  // namespace weft
