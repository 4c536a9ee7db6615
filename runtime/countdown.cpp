// weft::latch, weft::barrier and weft::wait_group: objects whose waiters
// all wake together when a count reaches zero. Each keeps its count and its
// waiters under the wait list's lock (latch reads its count without the
// lock on the fast paths, hence the atomic).
#include <stdexcept>

#include "waiting.hpp"
#include "weft/barrier.hpp"
#include "weft/latch.hpp"
#include "weft/wait_group.hpp"

namespace weft {

namespace {

// With `list` locked: parks the caller until a count_down/phase end claims it.
void wait_for_release(detail::wait_list& list, wait_kind why, const void* object) {
  detail::parker p(detail::current_waiter());
  detail::waiter_node node(p);
  detail::push_back(list, node);
  detail::wait_claimed(p, list, node, detail::no_deadline, why, object);
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

bool latch::try_wait() const noexcept { return count_.load(std::memory_order_acquire) == 0; }

void latch::wait() {
  if (try_wait()) return;
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

void wait_group::add(std::ptrdiff_t n) {
  detail::lock(waiters_);
  if (counter_ + n < 0) {
    detail::unlock(waiters_);
    throw std::logic_error("weft::wait_group: counter would go negative (done() without add()?)");
  }
  counter_ += n;
  if (counter_ == 0 && n != 0) {
    release_all_and_unlock(waiters_);
  } else {
    detail::unlock(waiters_);
  }
}

void wait_group::wait() {
  detail::lock(waiters_);
  if (counter_ == 0) {
    detail::unlock(waiters_);
    return;
  }
  wait_for_release(waiters_, wait_kind::wait_group, this);
}

}  // namespace weft
