// runtime_core: the state behind one weft::runtime: its workers, the inject
// queue, the idle set, the stack pool and the live-fiber registry.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "fiber/stack_pool.hpp"
#include "scheduler/idle.hpp"
#include "scheduler/inject_queue.hpp"
#include "scheduler/registry.hpp"
#include "scheduler/steal_gate.hpp"
#include "weft/options.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

class io_poller;
class worker;
class deadlock_watch;
class stall_watch;

class runtime_core {
 public:
  /// `opts` must be validated (validate_options).
  runtime_core(runtime& owner, options opts);
  /// Waits for every fiber, stops and joins the workers. Plain thread only.
  ~runtime_core();
  runtime_core(const runtime_core&) = delete;
  runtime_core& operator=(const runtime_core&) = delete;

  /// Queues a new fiber: as a spawn entry on the calling worker's deque when
  /// it belongs to this runtime (worker.hpp), else on the inject queue; then
  /// wakes an idle worker if needed. Any thread.
  void schedule(fiber* f);
  /// Queues a fiber that a wake made runnable (make_ready): on a worker of
  /// this runtime it goes to that worker's run-next slot (worker.hpp), so a
  /// fiber woken by another runs next on the waker's worker instead of
  /// being stolen; elsewhere as schedule(). Any thread.
  void schedule_woken(fiber* f);

  [[nodiscard]] unsigned worker_count() const noexcept {
    return static_cast<unsigned>(workers_.size());
  }
  worker& worker_at(unsigned i) noexcept { return *workers_[i]; }
  [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }
  [[nodiscard]] runtime_stats stats() const;

  /// The runtime's epoll set, created on first use (io_poller.hpp). Throws
  /// std::system_error if it cannot be created. Any thread.
  io_poller& io();
  /// The epoll set if it was created, else nullptr.
  [[nodiscard]] io_poller* io_if_started() const noexcept {
    // acquire: pairs with io()'s publishing CAS; the poller is constructed.
    return io_.load(std::memory_order_acquire);
  }

  runtime& owner;
  const options opts;
  /// Workers take fibers from the inject queue in batches (worker.cpp,
  /// inject_batches_pay).
  const bool inject_batches;
  inject_queue inject;
  idle_set idle;
  /// Licences to steal from the workers' deques (steal_gate.hpp).
  steal_gate steals;
  stack_pool stacks;
  fiber_registry registry;
  // The submitting threads' line, apart from what the workers read in their
  // loop (a thread pool's submitter writes it for every task).
  /// Fibers spawned from threads that are not this runtime's workers.
  alignas(64) std::atomic<std::uint64_t> outside_spawned{0};
  /// Threads inside schedule() from outside the runtime (see there).
  std::atomic<std::uint32_t> outside_wakers{0};

 private:
  /// The calling thread's worker if it is one of this runtime's; else nullptr.
  [[nodiscard]] worker* own_worker() const noexcept;
  void schedule_from_outside(fiber* f);

  alignas(64) std::vector<std::unique_ptr<worker>> workers_;  // read in every worker's loop
  std::unique_ptr<deadlock_watch> deadlock_watch_;  ///< options::deadlock_check; null if off
  std::unique_ptr<stall_watch> stall_watch_;        ///< options::stall_warning; null if off
  std::atomic<bool> stopping_{false};
  std::atomic<io_poller*> io_{nullptr};  ///< owned; deleted after the workers are joined
};

/// Throws std::invalid_argument naming the first bad option; returns the
/// options with defaults filled in (workers, rounded stack size).
options validate_options(options opts);

}  // namespace weft::detail
