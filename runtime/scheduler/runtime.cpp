// weft::runtime and its core: construction, validation, shutdown, stats.
#include "weft/runtime.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "diagnostics/fiber_dump.hpp"
#include "diagnostics/stall_watch.hpp"
#include "diagnostics/wait_graph.hpp"
#include "fiber/fiber.hpp"
#include "fiber/stack_overflow.hpp"
#include "io/io_poller.hpp"
#include "scheduler/runtime_core.hpp"
#include "scheduler/worker.hpp"

namespace weft {

namespace detail {

namespace {
void wake_worker(void* core, unsigned index) noexcept {
  static_cast<runtime_core*>(core)->worker_at(index).unpark();
}
}  // namespace

options validate_options(options opts) {
  if (opts.workers > max_workers) {
    throw std::invalid_argument("weft::options::workers: " + std::to_string(opts.workers) +
                                " exceeds max_workers (" + std::to_string(max_workers) + ")");
  }
  if (opts.workers == 0) opts.workers = std::max(1U, std::thread::hardware_concurrency());
  if (opts.stack_size < min_stack_size || opts.stack_size > max_stack_size) {
    throw std::invalid_argument("weft::options::stack_size: " + std::to_string(opts.stack_size) +
                                " is outside [" + std::to_string(min_stack_size) + ", " +
                                std::to_string(max_stack_size) + "]");
  }
  if (opts.name.empty()) throw std::invalid_argument("weft::options::name: must not be empty");
  const auto period_or_environment = [](std::chrono::milliseconds& period, const char* option,
                                        const char* variable) {
    if (period.count() < 0) {
      throw std::invalid_argument(std::string("weft::options::") + option + ": " +
                                  std::to_string(period.count()) + " ms is negative");
    }
    if (period.count() == 0) period = milliseconds_from_environment(variable);
  };
  period_or_environment(opts.deadlock_check, "deadlock_check", "WEFT_DEADLOCK_CHECK_MS");
  period_or_environment(opts.stall_warning, "stall_warning", "WEFT_STALL_WARNING_MS");
  opts.stack_size = round_stack_size(opts.stack_size);
  return opts;
}

runtime_core::runtime_core(runtime& rt, options validated)
    : owner(rt),
      opts(std::move(validated)),
      inject_batches(inject_batches_pay(opts.workers)),
      idle(opts.workers, &wake_worker, this),
      steals(steal_gate_wanted()),
      stacks(opts.stack_size),
      registry(opts.workers) {
  apply_diagnostics_environment();
  install_stack_overflow_handler();
  workers_.reserve(opts.workers);
  for (unsigned i = 0; i < opts.workers; ++i) {
    workers_.push_back(std::make_unique<worker>(*this, i));
  }
  try {
    for (auto& w : workers_) w->start();
    if (opts.deadlock_check.count() > 0) {
      deadlock_watch_ = std::make_unique<deadlock_watch>(*this, opts.deadlock_check);
    }
    if (opts.stall_warning.count() > 0) {
      stall_watch_ = std::make_unique<stall_watch>(*this, opts.stall_warning);
    }
    list_runtime(*this);  // last: nothing after it can fail
  } catch (...) {
    // No fiber exists yet: stop what started, then let the exception out.
    deadlock_watch_.reset();
    stall_watch_.reset();
    stopping_.store(true, std::memory_order_release);
    for (auto& w : workers_) w->unpark();
    for (auto& w : workers_) w->join();
    throw;
  }
}

runtime_core::~runtime_core() {
  worker* self = worker::current();
  if (self && &self->core() == this) {
    std::fputs("weft: a runtime was destroyed from one of its own fibers (deadlock)\n", stderr);
    std::abort();
  }
  // Every fiber spawned from outside must have been adopted (linked) before
  // an empty registry means "no fiber left". Adoptions first, then spawns:
  // equal counts then mean every outside spawn so far was linked (or done).
  registry.wait_until_empty(
      [](const void* context) {
        const auto& core = *static_cast<const runtime_core*>(context);
        std::uint64_t adopted = 0;
        for (const auto& w : core.workers_) {
          adopted += w->counters().adopted.load(std::memory_order_acquire);
        }
        return adopted == core.outside_spawned.load(std::memory_order_acquire);
      },
      this);
  deadlock_watch_.reset();  // no fiber left to wait for another
  stall_watch_.reset();     // nor to stall a worker
  // An outside waker may still be inside schedule() for a fiber that has
  // already finished: wait until it left (a handful of instructions).
  while (outside_wakers.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  // release: pairs with the acquire in stopping(); workers that see it find
  // no fiber left (the registry is empty) and exit.
  stopping_.store(true, std::memory_order_release);
  for (auto& w : workers_) w->unpark();
  for (auto& w : workers_) w->join();
  unlist_runtime(*this);
  delete io_if_started();  // no worker harvests any more (io_poller.hpp, "Teardown")
}

io_poller& runtime_core::io() {
  if (io_poller* p = io_if_started()) return *p;
  auto fresh = std::make_unique<io_poller>();
  io_poller* expected = nullptr;
  // acq_rel: publishes the constructed poller (release); on failure, reads
  // the winner's (acquire).
  if (io_.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) {
    return *fresh.release();
  }
  return *expected;
}

worker* runtime_core::own_worker() const noexcept {
  worker* w = worker::current();
  return w != nullptr && &w->core() == this ? w : nullptr;
}

void runtime_core::schedule(fiber* f) {
  if (worker* w = own_worker()) {
    w->push_spawned(f);
  } else {
    schedule_from_outside(f);
  }
}

void runtime_core::schedule_woken(fiber* f) {
  if (worker* w = own_worker()) {
    w->push_woken(f);
  } else {
    schedule_from_outside(f);
  }
}

void runtime_core::schedule_from_outside(fiber* f) {
  // From outside the runtime: once pushed, the fiber may run, finish, and
  // let the runtime be destroyed while we are still notifying. The
  // destructor waits for `outside_wakers` to drop to zero first.
  // acq_rel/release: pairs with the destructor's acquire load.
  outside_wakers.fetch_add(1, std::memory_order_acq_rel);
  inject.push(f);
  idle.notify_work_available();
  outside_wakers.fetch_sub(1, std::memory_order_release);
}

runtime_stats runtime_core::stats() const {
  runtime_stats s;
  // Completions first, then spawns: every completion counted was spawned
  // before, so `alive` never goes negative from the order of reads.
  for (const auto& w : workers_) {
    s.completed += w->counters().completed.load(std::memory_order_relaxed);
  }
  for (const auto& w : workers_) {
    const worker_counters& c = w->counters();
    s.spawned += c.spawned.load(std::memory_order_relaxed);
    s.steals += c.steals.load(std::memory_order_relaxed);
    s.parks += c.parks.load(std::memory_order_relaxed);
  }
  s.spawned += outside_spawned.load(std::memory_order_relaxed);
  s.alive = s.spawned > s.completed ? static_cast<std::size_t>(s.spawned - s.completed) : 0;
  return s;
}

}  // namespace detail

runtime::runtime() : runtime(options{}) {}

runtime::runtime(options opts)
    : core_(new detail::runtime_core(*this, detail::validate_options(std::move(opts)))) {}

runtime::~runtime() { delete core_; }

unsigned runtime::workers() const noexcept { return core_->worker_count(); }

runtime_stats runtime::stats() const { return core_->stats(); }

std::vector<fiber_info> runtime::fibers() const { return core_->registry.snapshot(); }

runtime& default_runtime() {
  static runtime instance;
  return instance;
}

}  // namespace weft
