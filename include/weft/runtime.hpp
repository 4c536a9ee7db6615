// weft::runtime: a pool of worker threads running fibers, and spawn().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/detail/task.hpp"
#include "weft/fiber_id.hpp"
#include "weft/join_handle.hpp"
#include "weft/options.hpp"

namespace weft {

/// Counters since the runtime started. Each is kept per worker and summed
/// when read, so a snapshot taken while fibers run is approximate.
struct runtime_stats {
  std::uint64_t spawned = 0;    ///< fibers spawned
  std::uint64_t completed = 0;  ///< fibers that finished
  std::uint64_t steals = 0;     ///< fibers taken from another worker's queue
  std::uint64_t parks = 0;      ///< times a fiber parked (join, sleep, any wait)
  std::size_t alive = 0;        ///< spawned and not yet finished
};

/// What a fiber is doing, as seen by runtime::fibers().
enum class fiber_state {
  ready,    ///< queued to run (new, woken or yielded)
  running,  ///< on a worker now
  parked,   ///< waiting; see fiber_info::waiting_on
};

/// Why a parked fiber waits. Later releases may add kinds; treat unknown ones as "other".
enum class wait_kind {
  none,                ///< not waiting
  join,                ///< join_handle::join / runtime::block_on on another fiber
  sleep,               ///< this_fiber::sleep_for / sleep_until
  mutex,               ///< weft::mutex::lock
  shared_mutex,        ///< weft::shared_mutex, shared or exclusive
  condition_variable,  ///< weft::condition_variable::wait
  semaphore,           ///< weft::semaphore::acquire
  latch,               ///< weft::latch::wait
  barrier,             ///< weft::barrier::arrive_and_wait
  wait_group,          ///< weft::wait_group::wait
  channel_send,        ///< weft::channel::send
  channel_recv,        ///< weft::channel::recv
  select,              ///< weft::select
  future,              ///< weft::future::get / wait
  blocking,            ///< weft::blocking: the call runs on a blocking-pool thread
  task_group,          ///< weft::task_group::wait, parallel algorithms
  io,                  ///< weft::net: waiting for a socket to become ready
  other,               ///< any other parking wait
};

/// One live fiber, as enumerated by runtime::fibers().
struct fiber_info {
  fiber_id id;
  std::string name;
  fiber_state state = fiber_state::ready;
  wait_kind waiting_on = wait_kind::none;
  /// The object waited on (the joined fiber's record, ...); nullptr if none.
  const void* wait_object = nullptr;
  /// When the current wait began; meaningful while state == parked.
  std::chrono::steady_clock::time_point waiting_since{};
};

/// A set of worker OS threads running fibers, each worker with its own
/// work-stealing queue. Independent of every other runtime; many may exist.
class runtime {
 public:
  /// A runtime with default options.
  runtime();
  /// Starts the workers. Throws std::invalid_argument naming the bad option
  /// (workers > max_workers, stack_size out of range, empty name).
  explicit runtime(options opts);
  /// Waits for every fiber spawned on this runtime (detached ones too) to
  /// finish, then joins the workers. Must not be called from one of its own fibers.
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Starts F(args...) as a new fiber on this runtime. Any thread. Arguments
  /// are decay-copied, as by std::thread.
  template <class F, class... A>
  join_handle<detail::spawn_result_t<F, A...>> spawn(F&& fn, A&&... args) {
    return make_handle(detail::spawn_task(*core_, nullptr, detail::spawn_kind::joinable,
                                          std::forward<F>(fn), std::forward<A>(args)...));
  }
  /// As spawn(fn, args...), with a name and stack size for the fiber.
  /// Throws std::invalid_argument for a stack_size out of range.
  template <class F, class... A>
  join_handle<detail::spawn_result_t<F, A...>> spawn(const spawn_options& opts, F&& fn,
                                                     A&&... args) {
    return make_handle(detail::spawn_task(*core_, &opts, detail::spawn_kind::joinable,
                                          std::forward<F>(fn), std::forward<A>(args)...));
  }

  /// Fire and forget: as spawn(fn, args...).detach(), without a handle,
  /// and cheaper (nothing is shared with the new fiber after it starts).
  /// An exception escaping it is reported as for any detached fiber.
  template <class F, class... A>
  requires std::is_invocable_v<std::decay_t<F>, std::decay_t<A>...>
  void spawn_detached(F&& fn, A&&... args) {
    detail::spawn_task(*core_, nullptr, detail::spawn_kind::detached, std::forward<F>(fn),
                       std::forward<A>(args)...);
  }
  /// As spawn_detached(fn, args...), with a name and stack size for the fiber.
  template <class F, class... A>
  void spawn_detached(const spawn_options& opts, F&& fn, A&&... args) {
    detail::spawn_task(*core_, &opts, detail::spawn_kind::detached, std::forward<F>(fn),
                       std::forward<A>(args)...);
  }

  /// Runs F as a fiber on this runtime and waits for it from the calling
  /// thread (a plain thread blocks; a fiber parks). Returns its value or
  /// rethrows its exception.
  template <class F>
  detail::spawn_result_t<F> block_on(F&& fn) {
    return spawn(std::forward<F>(fn)).join();
  }

  /// Number of worker threads.
  [[nodiscard]] unsigned workers() const noexcept;
  /// A snapshot of the counters.
  [[nodiscard]] runtime_stats stats() const;
  /// Every live fiber (spawned, not finished) with its state and wait reason.
  /// Does not stop the runtime: fibers move on while it reads.
  [[nodiscard]] std::vector<fiber_info> fibers() const;

  /// The runtime of the calling fiber; nullptr on a plain thread.
  static runtime* current() noexcept;

 private:
  template <class R>
  static join_handle<R> make_handle(std::pair<detail::fiber*, detail::task_result<R>*> p) noexcept {
    return join_handle<R>(p.first, p.second);
  }

  detail::runtime_core* core_;
};

/// The process-wide runtime with std::thread::hardware_concurrency() workers,
/// created on first use and destroyed at exit (after waiting for its fibers).
runtime& default_runtime();

/// Spawns on runtime::current(), or on default_runtime() from a plain thread.
template <class F, class... A>
join_handle<detail::spawn_result_t<F, A...>> spawn(F&& fn, A&&... args) {
  runtime* rt = runtime::current();
  return (rt ? *rt : default_runtime()).spawn(std::forward<F>(fn), std::forward<A>(args)...);
}

/// As spawn(fn, args...), with a name and stack size for the fiber.
template <class F, class... A>
join_handle<detail::spawn_result_t<F, A...>> spawn(const spawn_options& opts, F&& fn, A&&... args) {
  runtime* rt = runtime::current();
  return (rt ? *rt : default_runtime()).spawn(opts, std::forward<F>(fn), std::forward<A>(args)...);
}

}  // namespace weft
