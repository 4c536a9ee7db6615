// weft::thread_pool's non-template parts.
#include "weft/thread_pool.hpp"

#include <stdexcept>

#include "weft/cancel.hpp"

namespace weft {

void thread_pool::wait() {
  if (weft::runtime::current() == &rt_) {
    throw std::logic_error(
        "weft::thread_pool::wait: called from one of the pool's own tasks (it would wait for "
        "itself); wait for the tasks' futures instead");
  }
  pending_.wait();
}

void thread_pool::wait_all() noexcept {
  // The destructor's wait must run to the end, also in a cancelled fiber
  // (cancellation is sticky, and this wait is a cancellation point): the
  // tasks still use pending_ and rt_. The cancellation stays pending for the
  // owner's next wait.
  const cancellation_shield shield;
  pending_.wait();
}

}  // namespace weft
