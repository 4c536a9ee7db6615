// weft::thread_pool's non-template parts.
#include "weft/thread_pool.hpp"

#include <stdexcept>

namespace weft {

void thread_pool::wait() {
  if (weft::runtime::current() == &rt_) {
    throw std::logic_error(
        "weft::thread_pool::wait: called from one of the pool's own tasks (it would wait for "
        "itself); wait for the tasks' futures instead");
  }
  pending_.wait();
}

void thread_pool::wait_all() noexcept { pending_.wait(); }

}  // namespace weft
