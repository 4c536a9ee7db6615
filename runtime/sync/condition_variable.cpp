// weft::condition_variable. The waiter enqueues itself under the wait list's
// lock *before* it releases the user's mutex, and the list lock is released
// only after it parked (waiting.hpp): a notify that follows the mutex
// release therefore always finds it. Lock order: the condition variable's
// list, then the mutex's list (inside mutex::unlock); never the reverse.
#include "weft/condition_variable.hpp"

#include <system_error>

#include "sync/waiting.hpp"
#include "weft/cancel.hpp"

namespace weft {

std::cv_status condition_variable::wait_until_steady(std::unique_lock<mutex>& lock,
                                                     detail::steady_time deadline) {
  if (!lock.owns_lock()) {
    throw std::system_error(std::make_error_code(std::errc::operation_not_permitted),
                            "weft::condition_variable::wait: the lock is not held");
  }
  detail::parker p(detail::current_waiter());
  detail::waiter_node node(p);
  detail::lock(waiters_);
  detail::push_back(waiters_, node);
  lock.unlock();
  const std::uint32_t outcome = detail::wait_claimed(
      p, waiters_, node, detail::to_deadline(deadline), wait_kind::condition_variable, this);
  if (outcome == detail::parker::cancelled) {
    // As std::condition_variable_any's waits: the lock is held again when
    // the wait throws. Relocking waits to the end (the mutex is needed).
    const cancellation_shield shield;
    lock.lock();
    detail::throw_cancelled();
  }
  lock.lock();
  return outcome == detail::parker::timed_out ? std::cv_status::timeout
                                              : std::cv_status::no_timeout;
}

void condition_variable::notify_one() noexcept {
  detail::lock(waiters_);
  detail::waiter_node* node = detail::claim_first(waiters_);
  detail::unlock(waiters_);
  if (node) detail::wake(*node->owner);
}

void condition_variable::notify_all() noexcept {
  detail::lock(waiters_);
  detail::waiter_node* all = detail::claim_all(waiters_);
  detail::unlock(waiters_);
  detail::wake_chain(all);
}

}  // namespace weft
