// worker: one OS thread of a runtime, its run queues, and the scheduling
// loop that switches between fibers.
//
// Where a worker finds its next fiber (next_local, in this order):
//   1. every 61st tick, the oldest work first: due timers, the inject
//      queue, the yield FIFO's head, the top (oldest end) of its own deque —
//      so outside work, timers, yielders and old fibers never starve behind
//      two fibers that keep waking each other (61 is Go's choice, a prime so
//      it does not beat with periodic workloads);
//   2. its run-next slot: the fiber most recently woken by a fiber of this
//      worker (a channel peer, a mutex waiter, a joiner);
//   3. its own deque, newest first (LIFO: a spawned fiber runs next, with
//      its data still in cache, and fork-join trees unfold depth-first);
//   4. its woken deque, newest first: fibers woken here before the slot's
//      current one;
//   5. its yield FIFO (fibers that called yield(), oldest first: a yielder
//      runs after everything that was ready when it yielded);
//   6. the inject queue; due timers.
//
// Spawned and woken fibers are shared differently. A spawn is new,
// independent work: it goes on the deque, which searchers steal from at
// once. A wake is communication: the woken fiber goes to the waker's
// run-next slot (Go's runnext), and a newer wake moves the slot's previous
// fiber to the woken deque. Searchers take from neither, so fibers that talk
// to each other stay on one worker instead of contending for the same
// channel or mutex from two CPUs, and placing a woken fiber wakes nobody.
// Woken work is shared by age instead: the watcher (one sleeping worker,
// idle.hpp) looks at every worker once a period and takes
//   - from a woken deque whose oldest fiber is the one of its previous look
//     (it waited a whole period: the worker has more woken work than it
//     keeps up with), up to half, oldest first;
//   - a run-next slot whose worker made no scheduling decision (tick_) since
//     its previous look (it runs one fiber all along).
// A pipeline whose stages run in microseconds stays on one worker; stages
// that compute for longer than the period spread.
// Spawn entries. A new fiber enters the deque as a *spawn entry* (its
// pointer with the low bit set); a fiber that is resumed enters it plainly.
// A joiner may run a child that has not started inline, on its own stack
// (inline_join.hpp), while the child's spawn entry is still in the deque.
// Such a claim is only ever made on the thread of the worker whose deque
// holds the entry, so the owner's pop checks `start_claimed` with a plain
// load; a thief races that joiner and exchanges it. Whoever takes the entry
// of a claimed fiber, a tombstone, drops the reference it held. A resumed
// fiber's entry is never a tombstone, whatever its fiber did before. A
// joiner that can take the entry out of the deque leaves a hole (a null
// entry) instead, which whoever pops or steals it skips.
//
// With nothing local it searches (steals from random victims, polls the
// inject queue and others' timers), then sleeps (idle.hpp).
//
// Switching is direct: a fiber that parks, yields or ends picks the next
// fiber itself and jumps straight to it (one stack switch); only when there
// is nothing local does it jump to the worker's own context (the thread's
// original stack), which searches and sleeps. The switched-to context then
// finishes what the switched-from one asked (switch_record): requeue it,
// run its park commit, or retire it (free its stack). See park.hpp for why
// that post-switch step closes the lost-wake-up window. A fiber that ends
// and picks a fiber that never ran hands it its stack instead of switching
// (hand_stack_over): the next body runs on the same stack, in fiber_entry's
// loop.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "diagnostics/stall_capture.hpp"
#include "fiber/context.hpp"
#include "fiber/stack_pool.hpp"
#include "scheduler/local_queue.hpp"
#include "scheduler/run_next_slot.hpp"
#include "scheduler/steal_gate.hpp"
#include "scheduler/timers.hpp"

namespace weft::detail {

class runtime_core;
struct fiber;

// Spawn entries ("Spawn entries" above) carry this bit; fiber records are
// aligned to at least 8 bytes.
constexpr std::uintptr_t spawn_entry_bit = 1;

inline fiber* as_spawn_entry(fiber* f) noexcept {
  return reinterpret_cast<fiber*>(reinterpret_cast<std::uintptr_t>(f) | spawn_entry_bit);
}

inline bool is_spawn_entry(const fiber* entry) noexcept {
  return (reinterpret_cast<std::uintptr_t>(entry) & spawn_entry_bit) != 0;
}

inline fiber* fiber_of(fiber* entry) noexcept {
  return reinterpret_cast<fiber*>(reinterpret_cast<std::uintptr_t>(entry) & ~spawn_entry_bit);
}

/// What the context switched to must do for the context switched from.
enum class after_switch : std::uint8_t {
  nothing,  ///< from the worker's own context
  requeue,  ///< the fiber yielded: append it to the yield FIFO
  park,     ///< the fiber parks: run its commit step
  retire,   ///< the fiber ended: free its stack, drop its reference
};

/// Lives on the switched-from stack during a switch; the switched-to side
/// copies it before anything can resume the switched-from context.
struct switch_record {
  fiber* from;  ///< nullptr: the worker's own context
  after_switch action;
  bool (*commit)(fiber*, void*) noexcept = nullptr;  ///< park only
  void* commit_arg = nullptr;
};

/// The CPUs this process may run on (its affinity mask; at least 1).
unsigned usable_cpus() noexcept;

/// Whether the workers of a runtime with `workers` workers take fibers from
/// the inject queue in batches (worker.cpp says when that pays). The
/// environment variable WEFT_INJECT_BATCHES, 1 or 0, overrides the rule
/// (a lone worker never takes batches); any other value throws
/// std::invalid_argument naming it.
bool inject_batches_pay(unsigned workers);

/// Per-worker counters: written by the owner only (relaxed load + store, no
/// RMW), read by runtime::stats() from any thread.
struct worker_counters {
  std::atomic<std::uint64_t> spawned{0}, completed{0}, steals{0}, parks{0};
  /// Fibers spawned from outside that this worker registered; written with
  /// release, read with acquire by the shutdown drain.
  std::atomic<std::uint64_t> adopted{0};
  [[gnu::always_inline]] static void bump(std::atomic<std::uint64_t>& c) noexcept {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

class worker {
 public:
  worker(runtime_core& core, unsigned index);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  /// The worker of the calling thread; nullptr off workers. Not inlinable:
  /// the compiler must not cache a thread-local's address across a context
  /// switch, after which the fiber may run on another thread.
  static worker* current() noexcept;

  void start();
  void join();

  // ---- owner thread only
  /// Queues a runnable fiber locally and notifies idle workers.
  void push_local(fiber* f);
  /// Queues a new fiber as a spawn entry (see "Spawn entries" above).
  void push_spawned(fiber* f);
  /// How claim_unstarted() took a fiber.
  enum class spawn_claim : std::uint8_t {
    none,        ///< not taken: a thief has it, or it is not here
    removed,     ///< its entry is gone from the deque (pop(), or take_at()'s hole)
    tombstoned,  ///< claimed; its entry stays behind as a tombstone
  };
  /// Takes `f`, a fiber not yet started whose spawn entry this worker's
  /// deque received, to run it inline (inline_join.hpp). Inline, defined in
  /// inline_join.cpp, its one caller.
  inline spawn_claim claim_unstarted(fiber& f) noexcept;
  /// Pops the holes at the bottom of the deque (and tombstones among them).
  /// Inline: after every inline run, and most of the time it only looks.
  void drop_claimed_tail() noexcept {
    if (holes_ == 0) return;  // none left since the count was last reset
    // Only when the bottom entry is a hole (a look, no handshake): most of
    // the time (skynet, before its last child) it is a live entry.
    const auto bottom = owner_.peek_at(0);
    if (bottom && *bottom == nullptr) drop_dead_tail();
  }
  /// Makes `f` the running fiber without a switch (an inline run).
  void set_running(fiber* f) noexcept { running_ = f; }
  /// This thread's C++ exception state (context.hpp).
  exception_state& exceptions() noexcept { return *exceptions_; }
  /// Queues a fiber woken by the running fiber: into the run-next slot
  /// (its previous fiber goes to the deque), or the deque with one worker
  /// or from the worker's own context.
  void push_woken(fiber* f);
  /// Whether this worker's own deque looks empty (lazy binary splitting).
  [[nodiscard]] bool queue_empty_estimate() const noexcept { return owner_.empty_estimate(); }
  /// Whether a fiber is ready in the run-next slot, the deque or the woken deque.
  [[nodiscard]] bool has_ready_fibers() const noexcept {
    return runnext_.occupied() || !owner_.empty_estimate() || !woken_owner_.empty_estimate();
  }
  /// The fiber running on this worker now; nullptr in the worker's own context.
  [[nodiscard]] fiber* running() const noexcept { return running_; }

  // ---- read by the stall watch (diagnostics/stall_watch.hpp), any thread
  /// Scheduling decisions so far: unchanged while one fiber runs on.
  [[nodiscard]] std::uint32_t tick() const noexcept {
    return tick_.load(std::memory_order_relaxed);
  }
  /// Not asleep (on its futex word or in epoll).
  [[nodiscard]] bool awake() const noexcept {
    return sleep_word_.load(std::memory_order_relaxed) == 0;
  }
  [[nodiscard]] pthread_t native_thread() noexcept { return thread_.native_handle(); }
  /// The worker thread's own stack (its scheduling context runs there).
  [[nodiscard]] execution_stack own_stack() const noexcept { return own_stack_; }
  /// Where a stall capture meets this worker's signal handler.
  stall_capture& stall_slot() noexcept { return stall_slot_; }
  /// Yields the running fiber; false, doing nothing, if the caller is not a
  /// fiber of a worker. Inline, defined in worker.cpp beside its one
  /// caller, this_fiber::yield.
  inline static bool yield_current();
  /// Parks the fiber running on `self`, the calling thread's worker; see park.hpp.
  static void park_current(worker* self, bool (*commit)(fiber*, void*) noexcept, void* arg);
  /// The running fiber's body returned: switch away for good, to `next`
  /// (nullptr: the worker's own context).
  [[noreturn]] static void finish_current(fiber* next);
  /// Completes a switch on the context that was switched to.
  void complete_switch(transfer t) noexcept;
  timer_heap& timers() noexcept { return timers_; }
  /// Arms a timer on this worker's heap. If it is now the earliest here and
  /// some worker sleeps, wakes one so it re-reads the deadlines: this worker
  /// may stay busy past the deadline, and a sleeper's timeout was computed
  /// before the timer existed.
  void add_timer(timer_entry* entry);
  worker_counters& counters() noexcept { return counters_; }

  // ---- any thread
  [[nodiscard]] const worker_counters& counters() const noexcept { return counters_; }
  [[nodiscard]] const timer_heap& timers() const noexcept { return timers_; }
  /// Wakes the worker if it sleeps (idle_set's wake callback).
  void unpark() noexcept;
  /// Whether this worker's deque looks non-empty.
  [[nodiscard]] bool has_stealable_work() const noexcept { return !stealer_.empty_estimate(); }
  [[nodiscard]] unsigned index() const noexcept { return index_; }
  runtime_core& core() noexcept { return core_; }

 private:
  friend void fiber_entry(transfer t) noexcept;

  /// The running fiber `finished` ended: if `next` never ran and wants the
  /// same stack size, retires `finished` and makes `next` the running fiber
  /// on its stack, without a switch (true); else false.
  bool hand_stack_over(fiber* finished, fiber* next) noexcept;

  void run() noexcept;
  fiber* next_local() noexcept;
  /// next_local()'s fairness step, every `fairness_period` ticks: the
  /// oldest work rather than the newest (nullptr: none found that way).
  [[gnu::cold]] fiber* take_oldest_work() noexcept;
  /// Pops the deque's bottom, skipping tombstones.
  fiber* pop_own() noexcept;
  /// pop_own() past its empty check.
  fiber* pop_own_entries() noexcept;
  /// The fiber to run for a deque entry taken by the owner (`stolen`
  /// false) or by a thief; nullptr for a tombstone, whose reference it drops.
  static fiber* accept_entry(fiber* entry, bool stolen) noexcept;
  void push_entry(fiber* entry);
  /// Other workers exist, which may steal from this one's deque (with one
  /// worker, the deque's owner needs no handshake and wakes nobody).
  [[nodiscard]] bool has_thieves() const noexcept { return has_thieves_; }
  /// How this worker's claims on its own deque order themselves against
  /// thieves: no handshake with one worker, else through the steal gate.
  /// Counts the claim: a worker that made `licence_hold_claims` of them
  /// since its last steal attempt returns its steal licence first.
  [[nodiscard, gnu::always_inline]] claim_policy own_claims() noexcept {
    if (!has_thieves_) return false;
    if (holds_steal_licence_ && ++claims_since_steal_attempt_ >= licence_hold_claims) {
      return_steal_licence();
    }
    return steals_.owner_claims(holds_steal_licence_);
  }
  [[gnu::cold]] void return_steal_licence() noexcept;
  fiber* take_runnext() noexcept;
  fiber* take_woken() noexcept;         // newest first (LIFO, as the deque)
  fiber* pop_woken() noexcept;          // take_woken() once something was woken here
  fiber* take_oldest_woken() noexcept;  // the fairness step's pick
  /// Takes a batch from the inject queue: returns its oldest fiber and
  /// queues the rest in the deque.
  fiber* take_injected() noexcept;
  /// Links a fiber spawned from outside into this worker's registry shard
  /// (1), unless it is a wake-up, linked long since (0).
  std::uint64_t adopt_injected(fiber& f) noexcept;
  fiber* pop_yielded() noexcept;
  fiber* find_work() noexcept;
  fiber* search() noexcept;
  fiber* steal_one() noexcept;
  void sleep() noexcept;
  /// Whether another worker's run-next slot or woken deque holds a fiber.
  [[nodiscard]] bool others_have_woken() const noexcept;
  /// The watcher's look (see the top of this file): takes stranded woken
  /// fibers into this worker's woken deque and returns true, or notes every
  /// worker's tick and woken deque positions; gives the watch up (clears
  /// `watching`) when no other worker holds a woken fiber or is awake.
  bool take_stranded_woken(bool& watching) noexcept;
  /// Gives the watch up on leaving sleep(); hands it on if a slot is occupied.
  void leave_watch() noexcept;
  /// Polls the runtime's epoll set once without blocking, if descriptors
  /// are armed and no worker is blocked in it (io_poller.hpp). True if it
  /// woke any fiber (onto this worker's deque).
  bool poll_io_if_unattended() noexcept;
  /// The fairness tick's deferred poll: clears io_poll_due_, then polls.
  bool run_due_io_poll() noexcept;
  [[nodiscard]] bool work_visible() const noexcept;
  void await_wake_word() noexcept;
  bool fire_due_timers(bool all_workers) noexcept;
  void share_yielded_if_idle() noexcept;
  void share_yielded() noexcept;  // share_yielded_if_idle()'s move
  /// Switches from the current context to `next` (a fiber), or to the
  /// worker's own context when `next` is null.
  static void switch_to(worker* self, fiber* next, switch_record& record) noexcept;
  void retire(fiber* f) noexcept;

  runtime_core& core_;
  const unsigned index_;
  const bool has_thieves_;             // the runtime has other workers
  steal_gate& steals_;                 // runtime_core::steals, cached here
  const bool takes_injected_batches_;  // runtime_core::inject_batches, cached here
  local_queue<fiber*> queue_;
  local_queue<fiber*>::owner owner_;
  local_queue<fiber*>::stealer stealer_;
  fiber* yield_head_ = nullptr;  // the yield FIFO, linked by fiber::next_in_list
  fiber* yield_tail_ = nullptr;
  timer_heap timers_;
  stack_cache stacks_;
  context_handle own_context_ = nullptr;  // saved while a fiber runs
  execution_stack own_stack_;
  exception_state* exceptions_ = nullptr;  // this thread's C++ exception state (context.hpp)
  fiber* running_ = nullptr;
  // The run-next slot: the owner swaps fibers in and out without a locked
  // instruction; the watcher CASes a stranded one out (run_next_slot.hpp).
  run_next_slot runnext_;
  // Scheduling decisions (next_local calls). Written by the owner only
  // (relaxed load + store); read by the watcher, for whom an unchanged
  // value over a watch period means "running one fiber all along".
  std::atomic<std::uint32_t> tick_{0};
  // The woken deque: the owner pushes and pops at the bottom (newest first,
  // as the deque), the watcher steals at the top (oldest first).
  local_queue<fiber*> woken_;
  local_queue<fiber*>::owner woken_owner_;
  local_queue<fiber*>::stealer woken_stealer_;
  // This worker's last look, as the watcher, at every worker (owner only).
  struct watch_record {
    std::uint32_t tick = 0;
    std::int64_t woken_top = 0, woken_bottom = 0;
  };
  std::vector<watch_record> watched_;
  std::int64_t watched_at_ = 0;  // steady ns of that look
  std::uint64_t rng_;            // xorshift state for victim selection
  bool searching_ = false;
  // Owner only: this worker holds a licence to steal (steal_gate.hpp),
  // taken at its first steal attempt and kept while it searches: it
  // returns it once it has made `licence_hold_claims` claims on its own
  // deque since its last attempt. While it holds one, the other workers'
  // claims fence; taking one costs a heavy fence (1-5 µs here, and an
  // interrupt on every CPU that runs a worker): at most one per that many
  // claims. A worker asleep keeps its licence (no claims): a sleep/wake
  // cycle costs no heavy fence. A guess, measured in docs/benchmarks.md.
  static constexpr std::uint32_t licence_hold_claims = 4096;
  bool holds_steal_licence_ = false;
  std::uint32_t claims_since_steal_attempt_ = 0;
  // Owner only: set when a fiber goes to the run-next slot or the woken
  // deque, cleared when both are found empty. Only the owner fills them
  // (the watcher only empties them), so while it is false neither is
  // looked at: a worker whose fibers only yield or spawn never touches
  // their cache lines.
  bool woken_pending_ = false;
  bool io_poll_due_ = false;  // set by the fairness tick, cleared by run_due_io_poll
  // Owner only: the holes (take_at) this worker's claims left in its deque,
  // at most (thieves take some uncounted); 0 lets drop_claimed_tail skip its
  // look.
  std::int64_t holes_ = 0;
  // How many dead entries drop_claimed_tail pops at most in one go.
  static constexpr std::int64_t dead_entries_reach = 16;
  // drop_claimed_tail's work once the bottom entry is a hole.
  void drop_dead_tail() noexcept;
  worker_counters counters_;
  // 0 awake (or woken); `asleep` while asleep on the futex word;
  // `asleep_in_epoll` while blocked in the runtime's epoll set. The waker
  // exchanges 0 in and futex-wakes or interrupts the epoll wait (unpark()).
  static constexpr std::uint32_t asleep = 1;
  static constexpr std::uint32_t asleep_in_epoll = 2;
  std::atomic<std::uint32_t> sleep_word_{0};
  stall_capture stall_slot_;
  std::thread thread_;
};

}  // namespace weft::detail
