// weft::shared_mutex. All state (readers_, writer_, the FIFO of waiters) is
// guarded by the wait list's lock; waiters are granted ownership by the
// releaser (hand-off), so a woken waiter never has to compete again.
//
// Invariants (under the lock):
//  - writer_ implies readers_ == 0;
//  - a newcomer may enter only if no claimable waiter is queued (FIFO:
//    a queued writer holds back later readers);
//  - whenever ownership is released, the head of the queue is granted as
//    far as compatible: one writer, or every reader up to the next writer.
#include "weft/shared_mutex.hpp"

#include <stdexcept>
#include <system_error>

#include "sync/ownership.hpp"
#include "sync/waiting.hpp"

namespace weft {

namespace {
constexpr std::uint64_t as_writer = 1;
constexpr std::uint64_t as_reader = 0;
}  // namespace

namespace detail {
// Grants the queue's head (one writer, or a run of readers) with the lock
// held; returns the granted nodes linked through `next` (already unlinked).
waiter_node* grant_waiters(wait_list& list, std::uint32_t& readers, bool& writer) noexcept {
  waiter_node* granted = nullptr;
  waiter_node** tail = &granted;
  while (!writer) {
    waiter_node* head = peek_claimable(list);
    if (!head) break;
    if (head->tag == as_writer && readers != 0) break;
    waiter_node* node = claim_first(list);
    if (!node) break;
    if (node->tag == as_writer) {
      writer = true;
    } else {
      ++readers;
    }
    append_claimed(granted, tail, node);
    if (node->tag == as_writer) break;
  }
  return granted;
}

// After a cancelled wait (its node is already unlinked): a writer that
// left the head of the queue may have held back readers behind it, and no
// unlock may come to let them in. Grants what can be granted, then throws.
[[noreturn]] void leave_cancelled(wait_list& list, std::uint32_t& readers, bool& writer) {
  lock(list);
  waiter_node* granted = grant_waiters(list, readers, writer);
  unlock(list);
  wake_chain(granted);
  throw_cancelled();
}

}  // namespace detail

namespace detail {
std::uintptr_t writer_of(const shared_mutex& m) noexcept {
  return m.writer_at_.load(std::memory_order_relaxed);
}
}  // namespace detail

void shared_mutex::lock() {
  detail::lock(waiters_);
  if (!writer_ && readers_ == 0 && !detail::peek_claimable(waiters_)) {
    writer_ = true;
    writer_at_.store(detail::stack_marker(), std::memory_order_relaxed);  // ownership.hpp
    detail::unlock(waiters_);
    return;
  }
  if (writer_ && detail::on_current_stack(writer_at_.load(std::memory_order_relaxed))) {
    detail::unlock(waiters_);
    throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                            "weft::shared_mutex::lock would wait for itself: the caller holds it "
                            "(or runs inline for the fiber that does)");
  }
  detail::parker p(detail::current_waiter());
  detail::waiter_node node(p);
  node.tag = as_writer;
  detail::push_back(waiters_, node);
  if (detail::wait_claimed(p, waiters_, node, detail::no_deadline, wait_kind::shared_mutex, this) ==
      detail::parker::cancelled) {
    detail::leave_cancelled(waiters_, readers_, writer_);
  }
  // Woken by a grant: we own it exclusively now.
  writer_at_.store(detail::stack_marker(), std::memory_order_relaxed);
}

bool shared_mutex::try_lock() noexcept {
  detail::list_guard hold(waiters_);
  if (writer_ || readers_ != 0 || detail::peek_claimable(waiters_)) return false;
  writer_ = true;
  writer_at_.store(detail::stack_marker(), std::memory_order_relaxed);
  return true;
}

void shared_mutex::unlock() {
  detail::lock(waiters_);
  if (!writer_) {
    detail::unlock(waiters_);
    throw std::logic_error("weft::shared_mutex::unlock: not locked exclusively");
  }
  writer_ = false;
  writer_at_.store(0, std::memory_order_relaxed);
  detail::waiter_node* granted = detail::grant_waiters(waiters_, readers_, writer_);
  detail::unlock(waiters_);
  detail::wake_chain(granted);
}

void shared_mutex::lock_shared() {
  detail::lock(waiters_);
  if (!writer_ && !detail::peek_claimable(waiters_)) {
    ++readers_;
    detail::unlock(waiters_);
    return;
  }
  detail::parker p(detail::current_waiter());
  detail::waiter_node node(p);
  node.tag = as_reader;
  detail::push_back(waiters_, node);
  if (detail::wait_claimed(p, waiters_, node, detail::no_deadline, wait_kind::shared_mutex, this) ==
      detail::parker::cancelled) {
    detail::leave_cancelled(waiters_, readers_, writer_);
  }
}

bool shared_mutex::try_lock_shared() noexcept {
  detail::list_guard hold(waiters_);
  if (writer_ || detail::peek_claimable(waiters_)) return false;
  ++readers_;
  return true;
}

void shared_mutex::unlock_shared() {
  detail::lock(waiters_);
  if (readers_ == 0) {
    detail::unlock(waiters_);
    throw std::logic_error("weft::shared_mutex::unlock_shared: no reader holds it");
  }
  --readers_;
  detail::waiter_node* granted =
      readers_ == 0 ? detail::grant_waiters(waiters_, readers_, writer_) : nullptr;
  detail::unlock(waiters_);
  detail::wake_chain(granted);
}

}  // namespace weft
