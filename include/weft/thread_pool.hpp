// weft::thread_pool: a drop-in thread pool whose tasks are fibers.
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

#include "weft/detail/task_tally.hpp"
#include "weft/future.hpp"
#include "weft/runtime.hpp"

namespace weft {

/// A thread pool with the interface of the common single-header pools
/// (`ThreadPool pool(n); auto f = pool.enqueue(fn, args...); f.get();`),
/// BS::thread_pool's submit/detach/wait and boost::asio::thread_pool's
/// join-on-destruction. Tasks run as fibers on a weft::runtime of `size()`
/// workers, so a task may submit subtasks and wait for their futures, to
/// any depth, without deadlocking the pool, even a pool of one thread.
/// Submission is lock-free (the runtime's inject queue).
class thread_pool {
 public:
  /// `threads` workers; 0 means std::thread::hardware_concurrency(). Throws
  /// std::invalid_argument if `threads` exceeds weft::max_workers.
  explicit thread_pool(unsigned threads = 0)
      : rt_(options{.workers = threads, .name = "weft-pool"}) {}
  /// Finishes every queued task (and the tasks they submit), then joins.
  /// Not a cancellation point: in a cancelled fiber it still waits to the
  /// end, and the cancellation is delivered at that fiber's next wait.
  ~thread_pool() { wait_all(); }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  /// Runs fn(args...) as a task; the future holds its value or exception.
  template <class F, class... A>
  future<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>> submit(F&& fn, A&&... args) {
    using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>;
    auto* state = new detail::future_state<R>();  // refs: the future's and the task's
    pending_.started();
    try {
      rt_.spawn_detached(
          [this, state](std::decay_t<F> f, std::decay_t<A>... a) {
            state->run(f, a...);
            detail::future_publish(*state);
            detail::future_release(state);
            pending_.finished();
          },
          std::forward<F>(fn), std::forward<A>(args)...);
    } catch (...) {
      pending_.finished();
      delete state;
      throw;
    }
    return future<R>(state);
  }
  /// Same as submit (the name the single-header ThreadPool uses).
  template <class F, class... A>
  future<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>> enqueue(F&& fn, A&&... args) {
    return submit(std::forward<F>(fn), std::forward<A>(args)...);
  }
  /// Runs fn(args...) as a task without a future. An exception escaping it
  /// is reported on stderr (fiber id, name, what()) and terminates the
  /// process, as for any detached fiber: never silently lost.
  template <class F, class... A>
  void detach(F&& fn, A&&... args) {
    pending_.started();
    try {
      rt_.spawn_detached(
          [this](std::decay_t<F> f, std::decay_t<A>... a) {
            struct finished_on_exit {
              detail::task_tally& tally;
              ~finished_on_exit() { tally.finished(); }
            } finished{pending_};
            std::invoke(f, a...);
          },
          std::forward<F>(fn), std::forward<A>(args)...);
    } catch (...) {
      pending_.finished();
      throw;
    }
  }
  /// Waits until every task submitted so far, and every task those tasks
  /// submitted, has finished. Throws std::logic_error if called from one of
  /// the pool's own tasks (it would wait for itself). A cancellation point:
  /// in a cancelled fiber it throws weft::cancelled (the tasks run on).
  void wait();

  /// Number of worker threads.
  [[nodiscard]] unsigned size() const noexcept { return rt_.workers(); }
  /// The pool's runtime: tasks are fibers and may use everything in weft.
  weft::runtime& runtime() noexcept { return rt_; }

 private:
  void wait_all() noexcept;

  // Declared first, destroyed last: a task's final finished() may still be
  // running when wait() returns; ~runtime waits for it to finish.
  detail::task_tally pending_;  // tasks submitted and not finished
  weft::runtime rt_;
};

}  // namespace weft
