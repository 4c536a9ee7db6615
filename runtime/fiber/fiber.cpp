// Fiber records: allocation, states, the join protocol, lifetime.
// See fiber.hpp for the protocol.
#include "fiber/fiber.hpp"

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>

#include "diagnostics/trace_recorder.hpp"
#include "fiber/block_cache.hpp"
#include "scheduler/inline_join.hpp"
#include "scheduler/park.hpp"
#include "scheduler/runtime_core.hpp"
#include "scheduler/worker.hpp"
#include "weft/join_handle.hpp"

namespace weft::detail {

namespace {

// Ids come in blocks of 1024 per thread: one shared RMW per 1024 spawns
// instead of one per spawn. relaxed: only uniqueness matters. initial-exec:
// a %fs-relative access on the spawn path, not a __tls_get_addr call.
std::uint64_t next_fiber_id() noexcept {
  static std::atomic<std::uint64_t> next_block{1};
  constexpr std::uint64_t block = 1024;
  __attribute__((tls_model("initial-exec"))) thread_local std::uint64_t next = 0;
  __attribute__((tls_model("initial-exec"))) thread_local std::uint64_t end = 0;
  if (next == end) {
    next = next_block.fetch_add(block, std::memory_order_relaxed);
    end = next + block;
  }
  return next++;
}

const char* state_name(run_state s) noexcept {
  switch (s) {
    case run_state::created:
      return "created";
    case run_state::ready:
      return "ready";
    case run_state::running:
      return "running";
    case run_state::parked:
      return "parked";
    case run_state::done:
      return "done";
  }
  return "?";
}

// A joiner parked on `target` (the arg of commit_join).
struct join_wait {
  fiber* target;
  waiter self;
  /// Cancellation withdraws the joiner: CAS join_bits from has_joiner
  /// (neither finished nor detached: the joiner holds the handle) to 0. It
  /// fails once the finisher set `finished`, whose wake is then on its way.
  cancel_hook hook{&withdraw_joiner};

  static bool withdraw_joiner(cancel_hook* h) noexcept {
    auto* w = reinterpret_cast<join_wait*>(reinterpret_cast<char*>(h) - offsetof(join_wait, hook));
    std::uint32_t expected = has_joiner;
    // acq_rel: a claim on the word publish_outcome() RMWs.
    return w->target->join_bits.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
  }
};

// Registers `w` as the joiner; false if the fiber already finished.
bool register_joiner(fiber& target, waiter& w) noexcept {
  target.joiner = &w;
  // acq_rel: release publishes `joiner` to the finisher's fetch_or (acquire
  // there); acquire makes the outcome visible if `finished` is already set.
  const std::uint32_t before = target.join_bits.fetch_or(has_joiner, std::memory_order_acq_rel);
  return (before & finished) == 0;
}

bool commit_join(fiber* parked, void* arg) noexcept {
  auto* wait = static_cast<join_wait*>(arg);
  const bool waits =
      register_joiner(*wait->target, wait->self) && publish_cancellable_wait(*parked, wait->hook);
  settle(wait->hook);
  return waits;
}

}  // namespace

void report_bad_transition(const fiber& f, run_state actual, run_state from,
                           run_state to) noexcept {
  std::fprintf(stderr, "weft: fiber %llu: bad state transition %s -> %s (expected from %s)\n",
               static_cast<unsigned long long>(f.id), state_name(actual), state_name(to),
               state_name(from));
  std::abort();
}

std::int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void set_wait_reason(fiber& f, wait_kind kind, const void* object) noexcept {
  // The coarse clock (same epoch as steady_clock, a few ms resolution) costs
  // ~2 ns instead of ~20: this runs on every park, and a wait reason only
  // needs to tell a dump how long a fiber has been stuck.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  f.wait_since_ns.store(std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec,
                        std::memory_order_relaxed);
  f.wait_object.store(object, std::memory_order_relaxed);
  f.waiting_on.store(kind, std::memory_order_relaxed);
}

void set_wait_reason_unstamped(fiber& f, wait_kind kind, const void* object) noexcept {
  f.wait_since_ns.store(0, std::memory_order_relaxed);
  f.wait_object.store(object, std::memory_order_relaxed);
  f.waiting_on.store(kind, std::memory_order_relaxed);
}

void publish_outcome(fiber& f) noexcept {
  set_state(f, run_state::running, run_state::done);
  // acq_rel: release publishes the outcome to join_fiber()'s acquire load;
  // acquire pairs with register_joiner()'s release, making `joiner` valid.
  const std::uint32_t before = f.join_bits.fetch_or(finished, std::memory_order_acq_rel);
  if ((before & detached) && f.body->error && !is_cancellation(f.body->error)) {
    report_escaped_exception(f);
  }
  if (before & has_joiner) wake(*f.joiner);
}

void release_reference(fiber& f) noexcept {
  // The load first: holding the only reference, nobody else can change the
  // count, so the RMW is skipped (an inline child's record is usually freed
  // so). acquire, and acq_rel on the RMW: the last releaser sees every write
  // of the other owner before it destroys the task.
  if (f.refs.load(std::memory_order_acquire) != 1 &&
      f.refs.fetch_sub(1, std::memory_order_acq_rel) != 1) {
    return;
  }
  f.body->destroy();
  discard_fiber(&f);
}

void report_escaped_exception(const fiber& f) noexcept {
  std::string what = "an exception not derived from std::exception";
  try {
    std::rethrow_exception(f.body->error);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::fprintf(stderr, "weft: detached fiber %llu \"%s\" exited with an uncaught exception: %s\n",
               static_cast<unsigned long long>(f.id), f.name_c_str(), what.c_str());
  std::fflush(stderr);
  std::abort();
}

namespace {

// Where the task goes in a block that starts with the record.
struct block_layout {
  std::size_t header;  // the record, rounded up to the task's alignment
  std::size_t bytes;   // record and task
  std::size_t align;
  // block_class(bytes, align), computed once: recomputed where the record
  // is stamped, it cost 7 instructions a fiber without LTO (skynet).
  std::uint32_t size_class;
};

block_layout layout_for(std::size_t task_size, std::size_t task_align) noexcept {
  const std::size_t align = std::max(task_align, alignof(fiber));
  // Alignments are powers of two: a mask, not a division (without LTO the
  // alignment is not a constant here, and a `div` is tens of cycles).
  const std::size_t header = (sizeof(fiber) + align - 1) & ~(align - 1);
  return {header, header + task_size, align, block_class(header + task_size, align)};
}

fiber_allocation allocation_of(fiber* f, const block_layout& layout) noexcept {
  // Fits: blocks are records with callables, far below 4 GiB.
  f->allocation_class = layout.size_class;
  f->allocation_align = static_cast<std::uint32_t>(layout.align);
  return {f, reinterpret_cast<std::byte*>(f) + layout.header};
}

}  // namespace

fiber_allocation allocate_fiber(runtime_core& core, const spawn_options& opts,
                                std::size_t task_size, std::size_t task_align) {
  std::size_t stack = 0;
  if (opts.stack_size != 0) {
    if (opts.stack_size < min_stack_size || opts.stack_size > max_stack_size) {
      throw std::invalid_argument(
          "weft::spawn_options::stack_size: " + std::to_string(opts.stack_size) + " is outside [" +
          std::to_string(min_stack_size) + ", " + std::to_string(max_stack_size) + "]");
    }
    stack = round_stack_size(opts.stack_size);
    if (stack == core.stacks.default_size()) stack = 0;  // the pooled default after all
  }
  const block_layout layout = layout_for(task_size, task_align);
  void* block = allocate_block(layout.bytes, layout.align);
  fiber* f;
  try {
    f = ::new (block) fiber(core, next_fiber_id(), &opts.name, stack);
  } catch (...) {
    free_block_of_class(block, layout.size_class, layout.align);
    throw;
  }
  return allocation_of(f, layout);
}

// always_inline on the definition only: with LTO it joins each spawn site,
// where the task's size and alignment are constants (skynet: 7 instructions
// a fiber fewer); a build without LTO calls it. GCC warns that a function
// not declared inline might not be inlinable: that is the point here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wattributes"
[[gnu::always_inline]] fiber_allocation allocate_fiber(runtime_core& core, std::size_t task_size,
                                                       std::size_t task_align) {
  const block_layout layout = layout_for(task_size, task_align);
  return allocation_of(
      ::new (allocate_block(layout.bytes, layout.align)) fiber(core, next_fiber_id()), layout);
}
#pragma GCC diagnostic pop

void start_fiber(fiber* f, task_base* body, spawn_kind kind) {
  f->body = body;
  if (kind == spawn_kind::detached) {
    // No handle: the fiber's own reference is the only one. Published with
    // the record by the release store below.
    f->join_bits.store(detached, std::memory_order_relaxed);
    f->refs.store(1, std::memory_order_relaxed);
  }
  // release: publishes the record to whoever reads the state with acquire
  // (the queues the fiber goes to publish it to their takers as well).
  f->state.store(run_state::created, std::memory_order_release);
  if (tracing::on()) [[unlikely]]
    tracing::spawned(*f);
  runtime_core& core = f->core;
  worker* w = worker::current();
  if (w && &w->core() == &core) {
    core.registry.add(*f, w->index());
    f->registered = true;
    worker_counters::bump(w->counters().spawned);
    w->push_spawned(f);  // what core.schedule() does, the worker known
  } else {
    // Registered later, by the worker that takes it from the inject queue
    // (worker::take_injected): a submitting thread never touches the
    // registry's locks, which the workers retiring fibers also take.
    // release: pairs with the drain's acquire (runtime_core::~runtime_core).
    core.outside_spawned.fetch_add(1, std::memory_order_release);
    core.schedule(f);
  }
}

void discard_fiber(fiber* f) noexcept {
  const std::uint32_t size_class = f->allocation_class;
  const std::size_t align = f->allocation_align;
  f->~fiber();
  free_block_of_class(f, size_class, align);
}

void park_until_joined(fiber& self, fiber* target) {
  join_wait wait{target, {}};
  wait.self.parked = &self;
  park_current(&commit_join, &wait, wait_kind::join, target);
  withdraw_cancellable_wait(self, wait.hook);
  // acquire: pairs with publish_outcome()'s release; the outcome is
  // visible. Not finished: the wake was the cancellation's.
  if (!(target->join_bits.load(std::memory_order_acquire) & finished)) throw_cancelled();
}

void block_until_joined(fiber* target) noexcept {
  if (waiter thread; register_joiner(*target, thread)) block_until_woken(thread);
}

bool fiber_done(const fiber* f) noexcept {
  return (f->join_bits.load(std::memory_order_acquire) & finished) != 0;
}

std::uint64_t fiber_id_of(const fiber* f) noexcept { return f->id; }

void cancel(fiber* f) noexcept { cancel_fiber(*f); }

void release_joined(fiber* f) noexcept { release_reference(*f); }

void release_detached(fiber* f) noexcept {
  // acq_rel: pairs with publish_outcome()'s fetch_or; exactly one of the two
  // sees the other's bit and so reports an escaped exception.
  const std::uint32_t before = f->join_bits.fetch_or(detached, std::memory_order_acq_rel);
  if ((before & finished) && f->body->error && !is_cancellation(f->body->error)) {
    report_escaped_exception(*f);
  }
  release_reference(*f);
}

}  // namespace weft::detail
