// The blocking pool behind weft::blocking: plain threads, started on
// demand up to blocking_pool_max_threads, that run calls which would block
// a worker. Jobs queue FIFO under a std::mutex (the calls themselves take
// micro- to milliseconds; the queue is never the bottleneck). A thread idle
// for `idle_exit` leaves. The pool lives for the whole process (never
// destroyed, so no exit-time ordering problem with threads still running).
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "scheduler/park.hpp"
#include "weft/blocking.hpp"
#include "weft/future.hpp"

namespace weft::detail {

namespace {

// A guess: long enough that a steady trickle of calls reuses threads.
constexpr auto idle_exit = std::chrono::seconds(30);

// One call; the calling fiber waits on it as on a future (two references:
// the caller's and the pool thread's).
struct job final : future_core {
  ~job() override {
    if (dispose) dispose(arg);
  }
  void (*fn)(void*) = nullptr;
  void* arg = nullptr;
  /// Set by a caller that stopped waiting (cancelled): the job owns `arg`.
  /// Written before that caller's reference is dropped, read by the last
  /// one's destructor (the reference count's acq_rel orders the two).
  void (*dispose)(void*) = nullptr;
};

class blocking_pool {
 public:
  void submit(job* j) {
    std::unique_lock<std::mutex> hold(lock_);
    queue_.push_back(j);
    if (idle_ == 0 && threads_ < blocking_pool_max_threads) {
      ++threads_;
      std::thread([this] { run(); }).detach();
    } else {
      ready_.notify_one();
    }
  }

 private:
  void run() {
    std::unique_lock<std::mutex> hold(lock_);
    for (;;) {
      while (queue_.empty()) {
        ++idle_;
        const bool woke = ready_.wait_for(hold, idle_exit, [this] { return !queue_.empty(); });
        --idle_;
        if (!woke) {
          --threads_;
          return;
        }
      }
      job* j = queue_.front();
      queue_.pop_front();
      hold.unlock();
      j->fn(j->arg);
      future_publish(*j);
      future_release(j);
      hold.lock();
    }
  }

  std::mutex lock_;
  std::condition_variable ready_;
  std::deque<job*> queue_;  // guarded by lock_
  unsigned threads_ = 0;    // guarded by lock_
  unsigned idle_ = 0;       // guarded by lock_
};

blocking_pool& pool() {
  static blocking_pool* instance = new blocking_pool();  // never destroyed, see above
  return *instance;
}

}  // namespace

bool on_fiber() noexcept { return current_fiber() != nullptr; }

void run_blocking(void (*run)(void*), void (*dispose)(void*), void* call) {
  job* j;
  try {
    j = new job();
    j->fn = run;
    j->arg = call;
    pool().submit(j);
  } catch (...) {
    dispose(call);  // never queued (a new job or thread failed)
    throw;
  }
  try {
    future_wait(*j, steady_time::max());
  } catch (...) {
    // Cancelled: the call runs on without us and owns its state.
    j->dispose = dispose;
    future_release(j);
    throw;
  }
  future_release(j);
}

}  // namespace weft::detail
