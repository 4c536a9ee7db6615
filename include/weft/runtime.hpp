// weft::runtime: a pool of worker threads running fibers, and spawn().
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/detail/task.hpp"
#include "weft/fiber_id.hpp"
#include "weft/fiber_info.hpp"
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
  /// As fibers(), with fiber_detail::stacks also the stack of every parked
  /// or ready fiber (unwound from where it switched out, symbolized from the
  /// executable's symbol table and debug info). A fiber is kept from
  /// resuming for the few microseconds its stack is read.
  [[nodiscard]] std::vector<fiber_info> fibers(fiber_detail detail) const;
  /// Writes every live fiber with its state, wait reason, whom it waits for,
  /// how long, the worker, and its stack (see docs/diagnostics.md).
  void dump(std::ostream& out) const;
  /// The sets of fibers that wait for each other now (joins, mutexes,
  /// exclusive shared_mutex locks), each seen twice to be sure; members
  /// with their stacks. Empty if none. See docs/diagnostics.md.
  [[nodiscard]] std::vector<deadlock> find_deadlocks() const;

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
