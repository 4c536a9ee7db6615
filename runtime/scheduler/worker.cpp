// The scheduling loop: picking, switching, searching, sleeping. See worker.hpp.
#include "scheduler/worker.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "diagnostics/fiber_inspection.hpp"
#include "diagnostics/trace_recorder.hpp"
#include "fiber/fiber.hpp"
#include "fiber/stack_overflow.hpp"
#include "io/io_poller.hpp"
#include "platform/environment.hpp"
#include "platform/futex.hpp"
#include "scheduler/park.hpp"
#include "scheduler/runtime_core.hpp"
#include "weft/this_fiber.hpp"

namespace weft::detail {

namespace {

// initial-exec: a direct %fs-relative load instead of a __tls_get_addr call
// (the library is compiled as position-independent code). Valid for
// executables and shared libraries loaded at startup, which is how weft is used.
__attribute__((tls_model("initial-exec"))) thread_local worker* current_worker = nullptr;

// A guess, to be tuned with data: how many rounds a worker out of work keeps
// stealing before it sleeps (a sleep/wake costs a few µs; a round, with the
// sched_yield() between rounds, about one).
constexpr int search_rounds = 4;

// Every 61st tick the worker looks at the inject queue and timers first.
constexpr std::uint32_t fairness_period = 61;

// The most fibers one take from the inject queue moves at once: its fair
// share is the queue's size over the workers, plus one (inject_queue.hpp).
// Go caps its batch at half its local queue, 128; here a batch that one
// worker holds is stolen one fiber at a time.
constexpr std::size_t inject_batch_max = 32;

}  // namespace

unsigned usable_cpus() noexcept {
  // The affinity mask, as nproc and Go's GOMAXPROCS default read it: a
  // container given two CPUs of a large machine has two.
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    return static_cast<unsigned>(CPU_COUNT(&set));
  }
  return std::max(1U, std::thread::hardware_concurrency());
}

// Batches pay where the workers contend for the queue on CPUs of their own,
// and cost where they compete with the submitting thread for the CPUs
// (`pool`, M tasks/s, medians of 7 or more; one at a time → batches of 32):
//   16 cores: 2 workers 2.09 → 3.78, 4: 1.68 → 3.55, 8: 1.56 → 2.37,
//             16: 1.58 → 2.38; 1 worker 6.2 → 4.7;
//   2 vCPUs:  2 workers 9.1 → 6.2, 4: 5.8 → 2.5, 8: 6.6 → 3.9.
// On the 2 vCPUs the submitter got a sixth of the CPU time instead of
// three fifths, as both workers ran (and freed records) in parallel. So
// batches by default only with others to share them and fewer workers than
// usable CPUs (16 workers on 16 cores lose the gain they measured: the rule
// errs toward the measured loss).
bool inject_batches_pay(unsigned workers) {
  const std::optional<bool> setting = switch_from_environment("WEFT_INJECT_BATCHES");
  if (!setting) return workers > 1 && workers < usable_cpus();
  return *setting && workers > 1;  // a lone worker has nobody to share a batch with
}

namespace {

// The watcher's period (idle.hpp, "The run-next watch"): its first look
// comes this soon after it took the watch (a stranded woken fiber waits at
// most about two periods); while slots stay occupied and their workers keep
// switching, the period doubles up to the maximum, so a watcher costs about
// a thousand wake-ups a second while a pair of fibers talks for long.
constexpr std::int64_t watch_period_min_ns = 50'000;
constexpr std::int64_t watch_period_max_ns = 1'000'000;

std::uint64_t xorshift(std::uint64_t& state) noexcept {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

}  // namespace

#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noipa))
#endif
[[gnu::noinline]] worker*
worker::current() noexcept {
  return current_worker;
}

worker::worker(runtime_core& core, unsigned index)
    : core_(core),
      index_(index),
      has_thieves_(core.opts.workers > 1),
      steals_(core.steals),
      takes_injected_batches_(core.inject_batches),
      owner_(queue_.owner_handle()),
      stealer_(queue_.stealer_handle()),
      stacks_(core.stacks),
      woken_owner_(woken_.owner_handle()),
      woken_stealer_(woken_.stealer_handle()),
      rng_(0x9E3779B97F4A7C15ULL * (index + 1)) {}

worker::~worker() = default;

void worker::start() {
  thread_ = std::thread([this] { run(); });
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

void worker::run() noexcept {
  current_worker = this;
  // Linux limits thread names to 15 characters.
  const std::string name = (core_.opts.name + "-" + std::to_string(index_)).substr(0, 15);
  pthread_setname_np(pthread_self(), name.c_str());
  const alternate_signal_stack signal_stack;
  own_stack_ = thread_stack();
  exceptions_ = thread_exception_state();
  watched_.assign(core_.worker_count(), watch_record{});
  while (fiber* next = find_work()) {
    switch_record record{nullptr, after_switch::nothing};
    switch_to(this, next, record);
    // Back on the worker's own context (it never migrates): complete_switch ran.
  }
  current_worker = nullptr;
}

void worker::push_local(fiber* f) { push_entry(f); }

void worker::push_spawned(fiber* f) {
  // Both published by the push (a thief that takes the entry reads neither).
  f->spawn_worker = index_;
  f->spawn_slot = static_cast<std::uint32_t>(owner_.next_index());
  push_entry(as_spawn_entry(f));
}

void worker::push_entry(fiber* entry) {
  // Notify only when the deque goes from empty to non-empty. A push onto a
  // non-empty deque needs no wake-up: the earlier push notified, and any
  // worker that went to sleep since re-checked this deque after its fence
  // and saw it non-empty; if a thief emptied it meanwhile, that thief was a
  // searcher, and a searcher that finds work while being the last one wakes
  // the next worker (idle.hpp). The owner itself runs the rest in any case.
  // This saves a fence (and often a futex wake) on most spawns.
  // With a single worker there is nobody else to wake: the caller is it.
  const bool was_empty = owner_.empty_estimate();
  owner_.push(entry);
  if (was_empty && has_thieves()) core_.idle.notify_work_available();
}

void worker::push_woken(fiber* f) {
  // From the worker's own context (search, sleep, a harvest) no fiber of
  // this worker is running to keep talking to: share as a spawn does. With
  // one worker the deque's LIFO end already runs it next.
  if (running_ == nullptr || !has_thieves()) {
    push_local(f);
    return;
  }
  woken_pending_ = true;
  if (fiber* previous = runnext_.swap(f)) {
    // The slot was occupied all along, so a watcher or searcher already
    // looks (idle.hpp): no notify.
    woken_owner_.push(previous);
    return;
  }
  // The placing half of idle.hpp's "run-next watch" protocol: the slot's
  // store before the idle state's load (the compiler's half; the hardware
  // is fenced by the swap's exchange, or by the sleeper's heavy fence).
  std::atomic_signal_fence(std::memory_order_seq_cst);
  core_.idle.notify_woken();
}

fiber* worker::accept_entry(fiber* entry, bool stolen) noexcept {
  if (!is_spawn_entry(entry)) return entry;
  fiber* f = fiber_of(entry);
  // The owner's load needs no order: only its own thread claims fibers of
  // its deque. A thief races that claim: acq_rel exchange, paired with the
  // joiner's (claim_unstarted); exactly one of the two starts the fiber.
  const bool claimed = stolen ? f->start_claimed.exchange(true, std::memory_order_acq_rel)
                              : f->start_claimed.load(std::memory_order_relaxed);
  if (!claimed) return f;
  release_reference(*f);  // a tombstone: the fiber ran inline
  return nullptr;
}

// The empty case inline, before a loop that saves five registers: a
// scheduling decision that finds the deque empty (every yield with nothing
// spawned) reads two indices and returns.
[[gnu::always_inline]] inline fiber* worker::pop_own() noexcept {
  if (owner_.empty_estimate()) {
    (void)own_claims();  // counted all the same (a licence's hold, steal_gate.hpp)
    holes_ = 0;
    return nullptr;
  }
  return pop_own_entries();
}

fiber* worker::pop_own_entries() noexcept {
  const claim_policy claims = own_claims();
  while (const auto entry = owner_.pop(claims)) {
    if (*entry == nullptr) {  // a hole (take_at)
      holes_ = std::max<std::int64_t>(holes_ - 1, 0);
      continue;
    }
    if (fiber* f = accept_entry(*entry, false)) return f;
  }
  holes_ = 0;  // the deque is empty
  return nullptr;
}

void worker::drop_dead_tail() noexcept {
  // Called only when the bottom entry is a hole (drop_claimed_tail).
  // Tombstones alone are left for pop_own(): telling one from a live entry
  // means reading its record, which a thief may free unless the handshake
  // is done first, and with thieves about that handshake on every inline
  // run cost more than the pops it saves (skynet, 2 workers: 13%).
  std::int64_t holes = 0;
  // Once the range is out of reach (drop_newest_while), the tombstones in
  // it can be told apart and dropped with the holes.
  owner_.drop_newest_while(dead_entries_reach, own_claims(), [&holes](fiber* entry) {
    if (entry == nullptr) {
      ++holes;
      return true;
    }
    if (!is_spawn_entry(entry) || !fiber_of(entry)->start_claimed.load(std::memory_order_relaxed)) {
      return false;
    }
    release_reference(*fiber_of(entry));
    return true;
  });
  // An estimate: thieves take holes too, uncounted; an empty deque resets
  // it (pop_own).
  holes_ = std::max<std::int64_t>(holes_ - holes, 0);
}

// The check inline (nothing woken here: a byte), the pop out of line.
[[gnu::always_inline]] inline fiber* worker::take_woken() noexcept {
  return woken_pending_ ? pop_woken() : nullptr;
}

fiber* worker::pop_woken() noexcept {
  if (const auto f = woken_owner_.pop()) return *f;
  woken_pending_ = runnext_.occupied();
  return nullptr;
}

fiber* worker::take_oldest_woken() noexcept {
  if (!woken_pending_) return nullptr;
  for (;;) {
    const steal_result<fiber*> r = woken_stealer_.steal();
    if (r.status == steal_status::success) return r.value;
    if (r.status == steal_status::empty) return nullptr;
    // retry: the watcher took the top meanwhile; look again.
  }
}

fiber* worker::take_runnext() noexcept {
  // No RMW when empty; no load either while nothing was woken here.
  if (!woken_pending_ || !runnext_.occupied()) return nullptr;
  return runnext_.swap(nullptr);
}

fiber* worker::take_oldest_work() noexcept {
  // Fairness: the LIFO end alone would let two fibers that wake each other
  // run forever ahead of everything else; so now and then take the oldest
  // work instead: outside work, due timers, a yielder, the oldest woken
  // fiber, the deque's top (tokio caps its LIFO slot for the same reason).
  fire_due_timers(false);
  io_poll_due_ = true;  // polled once the switch is complete (io_poller.hpp)
  if (fiber* f = take_injected()) return f;
  if (fiber* f = pop_yielded()) return f;
  if (fiber* f = take_oldest_woken()) return f;
  const steal_result<fiber*> oldest = stealer_.steal();
  if (oldest.status == steal_status::success) return accept_entry(oldest.value, false);
  return nullptr;
}

fiber* worker::next_local() noexcept {
  const std::uint32_t tick = tick_.load(std::memory_order_relaxed) + 1;
  tick_.store(tick, std::memory_order_relaxed);
  if (tick % fairness_period == 0) [[unlikely]] {
    if (fiber* f = take_oldest_work()) return f;
  }
  if (fiber* f = take_runnext()) return f;
  if (fiber* f = pop_own()) return f;
  if (fiber* f = take_woken()) return f;
  if (fiber* f = pop_yielded()) {
    share_yielded_if_idle();
    return f;
  }
  if (fiber* f = take_injected()) return f;
  if (fire_due_timers(false)) {
    if (fiber* f = take_runnext()) return f;
    if (fiber* f = pop_own()) return f;
    if (fiber* f = take_woken()) return f;
  }
  return nullptr;
}

void worker::add_timer(timer_entry* entry) {
  if (timers_.add(entry)) core_.idle.wake_one_sleeper();
}

fiber* worker::take_injected() noexcept {
  if (core_.inject.probably_empty()) return nullptr;
  // The queue's links acquire what the pusher wrote (inject_queue.hpp).
  std::array<fiber*, inject_batch_max> batch;
  const std::size_t taken =
      core_.inject.pop(std::span<fiber*>(batch.data(), takes_injected_batches_ ? batch.size() : 1));
  if (taken == 0) return nullptr;
  // The oldest runs now; the rest go to the deque, newest first, so that its
  // LIFO end runs the oldest next and thieves take the newest.
  const bool deque_was_empty = taken > 1 && owner_.empty_estimate();
  std::uint64_t adopted = 0;
  for (std::size_t i = taken; i-- > 1;) {
    adopted += adopt_injected(*batch[i]);
    owner_.push(batch[i]);
  }
  adopted += adopt_injected(*batch[0]);
  if (adopted != 0) {
    // release: pairs with the drain's acquire (runtime_core::~runtime_core):
    // the links are visible to it.
    counters_.adopted.store(counters_.adopted.load(std::memory_order_relaxed) + adopted,
                            std::memory_order_release);
  }
  // A batch that fills an empty deque wakes one worker (if none searches: a
  // searcher chains the wake-ups when it finds work), push_entry()'s rule: a
  // sleeper may have re-checked our deque before the batch was in it and the
  // queue after the batch left it.
  if (has_thieves() && deque_was_empty) core_.idle.notify_work_available();
  return batch[0];
}

std::uint64_t worker::adopt_injected(fiber& f) noexcept {
  if (f.registered) return 0;  // a wake-up from outside, not a spawn
  // Spawned from outside the runtime: it joins the registry here, on its
  // first worker (start_fiber explains why not at spawn). Counted in
  // `adopted` by the caller, after the link.
  core_.registry.add(f, index_);
  f.registered = true;
  return 1;
}

fiber* worker::pop_yielded() noexcept {
  fiber* f = yield_head_;
  if (!f) return nullptr;
  yield_head_ = f->next_in_list;
  if (!yield_head_) yield_tail_ = nullptr;
  f->next_in_list = nullptr;
  return f;
}

// Yielded fibers sit in a private FIFO that thieves cannot reach; when some
// worker sleeps, move them to the deque so it can take them. The check
// inline, the move out of line.
[[gnu::always_inline]] inline void worker::share_yielded_if_idle() noexcept {
  if (yield_head_ && core_.idle.sleeping() != 0) share_yielded();
}

void worker::share_yielded() noexcept {
  while (fiber* f = yield_head_) {
    yield_head_ = f->next_in_list;
    f->next_in_list = nullptr;
    owner_.push(f);
  }
  yield_tail_ = nullptr;
  core_.idle.notify_work_available();
}

bool worker::fire_due_timers(bool all_workers) noexcept {
  if (!all_workers && timers_.earliest() == no_deadline) return false;  // no clock read
  const std::int64_t now = steady_now_ns();
  std::size_t fired = timers_.fire_due(now);
  if (all_workers) {
    for (unsigned i = 0; i < core_.worker_count(); ++i) {
      if (i != index_) fired += core_.worker_at(i).timers_.fire_due(now);
    }
  }
  return fired > 0;
}

fiber* worker::find_work() noexcept {
  for (;;) {
    if (fiber* f = next_local()) {
      if (searching_) {
        searching_ = false;
        core_.idle.end_search(true);
      }
      return f;
    }
    if (core_.stopping()) return nullptr;
    if (fiber* f = search()) return f;
    sleep();
  }
}

fiber* worker::search() noexcept {
  if (!searching_) {
    if (!core_.idle.try_begin_search()) return nullptr;
    searching_ = true;
  }
  for (int round = 0; round < search_rounds; ++round) {
    fiber* f = steal_one();
    if (!f) f = take_injected();
    if (!f && (fire_due_timers(true) || (round == 0 && poll_io_if_unattended()))) {
      f = pop_own();
    }
    if (f) {
      searching_ = false;
      core_.idle.end_search(true);
      return f;
    }
    // Between rounds, give the CPU away rather than pause on it: where
    // threads outnumber CPUs (a thread pool's submitter beside its workers,
    // other processes, a VM's vCPUs), the thread that makes the work we
    // wait for may be waiting for this CPU. With nobody waiting it returns
    // at once (about 0.4 µs here; the 64 pauses it replaces took 1.5).
    // `pool`, 2 workers: see docs/benchmarks.md. Not after the last round:
    // sleep() follows, which gives the CPU away anyway.
    if (round + 1 < search_rounds) sched_yield();
  }
  return nullptr;  // still counted as searching; sleep() ends that
}

void worker::return_steal_licence() noexcept {
  steals_.return_licence();
  holds_steal_licence_ = false;
}

fiber* worker::steal_one() noexcept {
  // Victims in random order: a random start, then every other worker once.
  // A victim that reports `retry` (lost a race) earns one more pass.
  const unsigned n = core_.worker_count();
  if (n < 2) return nullptr;
  if (!holds_steal_licence_) {
    steals_.take_licence();
    holds_steal_licence_ = true;
  }
  claims_since_steal_attempt_ = 0;
  const auto start = static_cast<unsigned>(xorshift(rng_) % n);
  for (int pass = 0; pass < 2; ++pass) {
    bool contended = false;
    for (unsigned i = 0; i < n; ++i) {
      const unsigned victim = (start + i) % n;
      if (victim == index_) continue;
      const steal_result<fiber*> r = core_.worker_at(victim).stealer_.steal();
      if (r.status == steal_status::success) {
        if (fiber* f = accept_entry(r.value, true)) {
          worker_counters::bump(counters_.steals);
          if (tracing::on()) [[unlikely]]
            tracing::stolen(*f, victim);
          return f;
        }
      }
      // A tombstone counts as a lost race: the victim may hold more.
      contended |= r.status != steal_status::empty;
    }
    if (!contended) break;
  }
  return nullptr;
}

bool worker::work_visible() const noexcept {
  for (unsigned i = 0; i < core_.worker_count(); ++i) {
    worker& w = core_.worker_at(i);
    if (w.has_stealable_work()) return true;
  }
  if (!core_.inject.probably_empty()) return true;
  const std::int64_t now = steady_now_ns();
  for (unsigned i = 0; i < core_.worker_count(); ++i) {
    if (core_.worker_at(i).timers_.earliest() <= now) return true;
  }
  return false;
}

void worker::await_wake_word() noexcept {
  while (sleep_word_.load(std::memory_order_acquire) != 0) futex_wait(sleep_word_, 1);
}

bool worker::run_due_io_poll() noexcept {
  io_poll_due_ = false;
  return poll_io_if_unattended();
}

bool worker::poll_io_if_unattended() noexcept {
  io_poller* io = core_.io_if_started();
  if (io == nullptr || !io->has_armed() || io->has_blocked_worker() ||
      io_poller::in_forked_child()) {  // the set is the parent's: never take its events
    return false;
  }
  return io->poll_now();
}

void worker::sleep() noexcept {
  // Fibers of ours that ended elsewhere keep their records until we unlink
  // them (registry.hpp): not for the length of a sleep.
  core_.registry.unlink_ended(index_);
  // exchange (acq_rel), not a store: if shutdown's unpark() wrote 0 first,
  // we read it and so also see `stopping_`, written before it.
  sleep_word_.exchange(asleep, std::memory_order_acq_rel);
  std::uint32_t others_searching = core_.idle.add_sleeper(index_);
  if (searching_) {
    searching_ = false;
    others_searching = core_.idle.end_search(false);
  }
  // add_sleeper's RMW on the idle state orders the re-check below against
  // every notifier (idle.hpp), and the read of has_armed() against every
  // arming fiber's wake_one_sleeper (poller.hpp, "Arming"). With another
  // worker searching, that searcher covers the re-check (idle.hpp, "Who
  // re-checks").
  if ((others_searching == 0 && work_visible()) || core_.stopping()) {
    if (!core_.idle.remove_sleeper(index_)) {
      // A notifier popped us first and counted us as a searcher.
      await_wake_word();
      searching_ = true;
    }
    return;
  }
  // With descriptors armed and nobody waiting on them, sleep in the epoll
  // set instead of on the futex word (io_poller.hpp).
  io_poller* const io = core_.io_if_started();
  const bool polls =
      io != nullptr && io->has_armed() && !io_poller::in_forked_child() && io->try_begin_blocking();
  // Read after add_sleeper's and end_search's RMWs (idle.hpp, "The run-next
  // watch"). A plain placement (run_next_slot.hpp) may not be seen yet, and
  // needs no fence: with another worker awake we take the watch anyway (or
  // another sleeper holds it); with none awake, every placer is woken after
  // our RMW, so its load of the idle state sees us sleeping and unwatched,
  // and it wakes one of us.
  bool watching = (core_.idle.awake() > 0 || others_have_woken()) && core_.idle.try_take_watch();
  std::int64_t watch_period = watch_period_min_ns;
  // The first look may come one period after the last one, which may be
  // older than this sleep: what it recorded only ages.
  std::int64_t next_look = watching ? watched_at_ + watch_period : no_deadline;
  io_events harvested;
  for (;;) {
    // acquire: pairs with the exchange in unpark().
    if (sleep_word_.load(std::memory_order_acquire) == 0) break;
    std::int64_t deadline = no_deadline;
    for (unsigned i = 0; i < core_.worker_count(); ++i) {
      deadline = std::min(deadline, core_.worker_at(i).timers_.earliest());
    }
    const std::int64_t wake_at = std::min(deadline, next_look);
    if (polls) {
      // acq_rel CASes on the word unpark() exchanges: either this one fails
      // (unparked: do not block) or unpark() reads asleep_in_epoll and
      // interrupts the wait (io_poller.hpp, "Interrupting").
      std::uint32_t expected = asleep;
      if (!sleep_word_.compare_exchange_strong(expected, asleep_in_epoll,
                                               std::memory_order_acq_rel)) {
        break;
      }
      io->wait(harvested, wake_at);
      expected = asleep_in_epoll;
      sleep_word_.compare_exchange_strong(expected, asleep, std::memory_order_acq_rel);
      if (harvested.count > 0) break;  // dispatched below, once no longer a sleeper
    } else if (wake_at == no_deadline) {
      futex_wait(sleep_word_, asleep);
      continue;
    } else {
      const std::chrono::nanoseconds rest(wake_at - steady_now_ns());
      if (rest.count() > 0) futex_wait(sleep_word_, asleep, &rest);
    }
    if (wake_at == no_deadline) continue;
    const std::int64_t now = steady_now_ns();
    if (watching && now >= next_look) {
      if (take_stranded_woken(watching)) break;  // run what it took
      watch_period = std::min(2 * watch_period, watch_period_max_ns);
      next_look = watching ? now + watch_period : no_deadline;
    }
    if (now >= deadline) break;
  }
  if (polls) io->end_blocking();
  if (watching) leave_watch();
  if (!core_.stopping() &&
      (sleep_word_.load(std::memory_order_acquire) == 0 || !core_.idle.remove_sleeper(index_))) {
    // Woken by a notifier (perhaps racing our timeout): it counted us as a searcher.
    await_wake_word();
    searching_ = true;
  }
  // (Stopping: shutdown wakes everyone; the counts no longer matter. Events
  // taken are still dispatched: they may be for another runtime's fibers.)
  if (polls) io->dispatch(harvested);
}

bool worker::others_have_woken() const noexcept {
  for (unsigned i = 0; i < core_.worker_count(); ++i) {
    if (i == index_) continue;
    const worker& w = core_.worker_at(i);
    // The sleeper's half of idle.hpp's "run-next watch" protocol.
    if (w.runnext_.occupied()) return true;
    // A hint only: a fiber enters the woken deque while the slot stays
    // occupied (push_woken), so the slot load above is the one that counts.
    if (!w.woken_stealer_.empty_estimate()) return true;
  }
  return false;
}

bool worker::take_stranded_woken(bool& watching) noexcept {
  const std::int64_t now = steady_now_ns();
  const bool a_period_passed = now - watched_at_ >= watch_period_min_ns;
  bool occupied = false;
  bool took = false;
  for (unsigned i = 0; i < core_.worker_count() && !took; ++i) {
    if (i == index_) continue;
    worker& w = core_.worker_at(i);
    watch_record& last = watched_[i];
    const std::uint32_t tick = w.tick_.load(std::memory_order_relaxed);
    const auto woken = w.woken_stealer_.positions_estimate();
    const run_next_slot::sighting slot = w.runnext_.look();
    occupied = occupied || slot.f != nullptr || woken.top < woken.bottom;
    // The oldest woken fiber there is the one of the last look: `top` only
    // moves when it is taken (the owner pops its last element with a CAS of
    // `top`, too), so it has waited a whole period. The worker has more
    // woken work than it keeps up with: take up to half, oldest first.
    if (a_period_passed && woken.top == last.woken_top && last.woken_top < last.woken_bottom &&
        woken.top < woken.bottom) {
      for (std::int64_t n = 0; n < (woken.bottom - woken.top + 1) / 2; ++n) {
        const steal_result<fiber*> r = w.woken_stealer_.steal();
        if (r.status != steal_status::success) break;
        woken_owner_.push(r.value);
        worker_counters::bump(counters_.steals);
        took = true;
      }
    }
    // No scheduling decision since the last look: its worker runs one
    // fiber all along, and `f` waits behind it.
    if (!took && a_period_passed && slot.f != nullptr && tick == last.tick &&
        w.runnext_.steal(slot)) {
      woken_owner_.push(slot.f);
      worker_counters::bump(counters_.steals);
      took = true;
    }
    // Records are only ever a period old or older: the criteria above
    // hold against an older look too (the fiber only waited longer).
    if (a_period_passed) last = watch_record{tick, woken.top, woken.bottom};
  }
  if (a_period_passed) watched_at_ = now;
  woken_pending_ = woken_pending_ || took;  // taken fibers wait in our woken deque
  if (!took && !occupied && core_.idle.awake() == 0) {
    core_.idle.release_watch();
    // Re-read after the RMW (idle.hpp): a fiber woken meanwhile keeps us on
    // (a plain placement we miss is covered as in sleep(): none was awake).
    watching = (core_.idle.awake() > 0 || others_have_woken()) && core_.idle.try_take_watch();
  }
  return took;
}

void worker::leave_watch() noexcept {
  core_.idle.release_watch();
  // Re-read after the RMW: a placement that saw the watch did not wake
  // anyone, so pass the watch on (a sleeper is woken unless someone
  // searches; a searcher re-reads the slots when it sleeps). A plain
  // placement's store may not be visible yet (run_next_slot.hpp): the heavy
  // fence makes it so, or makes our release visible to its load. Only a
  // third worker, asleep without the watch, can need this: with two, the
  // placer is the other worker, awake, and we take the watch again when we
  // next sleep while it is awake.
  if (runnext_.plain() && core_.worker_count() > 2 && core_.idle.sleeping() > 0) heavy_fence();
  if (others_have_woken()) core_.idle.notify_woken();
}

void worker::unpark() noexcept {
  // acq_rel: pairs with the acquire loads and the CASes in sleep(). The
  // worker and its runtime's io_poller outlive every unpark(): the runtime
  // joins its workers, and deletes the poller, only after outside wakers
  // left (runtime_core::~runtime_core).
  if (sleep_word_.exchange(0, std::memory_order_acq_rel) == asleep_in_epoll) {
    core_.io_if_started()->interrupt();  // non-null: the word says a worker blocks in it
  } else {
    futex_wake(sleep_word_, 1);
  }
}

// Inlined into its few callers: every call level between user code and the
// stack switch costs a mispredicted return after the switch (the CPU's
// return-stack buffer holds the other stack's return addresses).
[[gnu::always_inline]] inline void worker::switch_to(worker* self, fiber* next,
                                                     switch_record& record) noexcept {
  const bool leaving_forever = record.action == after_switch::retire;
  // This context's C++ exception state stays with it (context.hpp).
  const exception_state exceptions = *self->exceptions_;
  transfer t{};
  if (next) {
    if (!next->context) {
      // First run: a stack only now, so queued-but-unstarted fibers cost no stack.
      next->stack = self->stacks_.acquire(next->stack_request);
      forget_stack_frames(next->stack.bottom, next->stack.size);
      next->tsan_fiber = sanitizer_fiber_create();
      next->context = make_context(next->stack.top(), next->stack.size);
      set_state(*next, run_state::created, run_state::running);
    } else {
      set_state(*next, run_state::ready, run_state::running);
      wait_while_inspected(*next);  // a dump may be reading its stack
    }
    next->last_worker.store(self->index_, std::memory_order_relaxed);
    if (tracing::on()) [[unlikely]] {
      if (record.from) tracing::run_end(*record.from);
      tracing::run_begin(*next, self->index_);
    }
    self->running_ = next;
    const execution_stack target{next->stack.bottom, next->stack.size, next->tsan_fiber};
    t = switch_context(next->context, target, &record, leaving_forever);
  } else {
    if (tracing::on() && record.from) [[unlikely]]
      tracing::run_end(*record.from);
    self->running_ = nullptr;
    t = switch_context(self->own_context_, self->own_stack_, &record, leaving_forever);
  }
  // Resumed; possibly on another worker's thread, so `self` may be stale.
  worker* now = worker::current();
  *now->exceptions_ = exceptions;
  now->complete_switch(t);
}

void worker::complete_switch(transfer t) noexcept {
  // Copy first: once the switched-from fiber is requeued or published, another
  // worker may resume it and reuse the stack the record lives on.
  const switch_record record = *static_cast<const switch_record*>(t.data);
  fiber* from = record.from;
  switch (record.action) {
    case after_switch::nothing:
      own_context_ = t.from;
      break;
    case after_switch::requeue:
      from->context = t.from;
      set_state(*from, run_state::running, run_state::ready);
      if (yield_tail_) {
        yield_tail_->next_in_list = from;
      } else {
        yield_head_ = from;
      }
      yield_tail_ = from;
      break;
    case after_switch::park:
      from->context = t.from;
      set_state(*from, run_state::running, run_state::parked);
      if (!record.commit(from, record.commit_arg)) {
        set_state(*from, run_state::parked, run_state::ready);
        push_local(from);
      }
      break;
    case after_switch::retire:
      retire(from);
      break;
  }
  if (io_poll_due_) [[unlikely]]
    run_due_io_poll();  // now that no lock is held
}

void worker::retire(fiber* f) noexcept {
  sanitizer_fiber_destroy(f->tsan_fiber);
  stacks_.release(f->stack);
  f->stack = fiber_stack{};
  core_.registry.remove(*f, index_);
  release_reference(*f);
}

// Always inlined into its one caller, this_fiber::yield() below: a call
// level less on every yield (and a return the CPU mispredicts after the
// switch), with or without LTO.
[[gnu::always_inline]] inline bool worker::yield_current() {
  worker* self = current();
  if (self == nullptr || self->running_ == nullptr) return false;
  fiber* next = self->next_local();
  // No switch follows, so complete_switch will not run the fairness tick's
  // poll: run it here (a yielder holds no wait-list lock), or a fiber that
  // yields in a loop would keep I/O from ever being harvested.
  if (!next && self->io_poll_due_ && self->run_due_io_poll()) next = self->pop_own();
  if (!next) return true;  // nothing else is ready: keep running
  switch_record record{self->running_, after_switch::requeue};
  switch_to(self, next, record);
  return true;
}

void worker::park_current(worker* self, bool (*commit)(fiber*, void*) noexcept, void* arg) {
  worker_counters::bump(self->counters_.parks);
  switch_record record{self->running_, after_switch::park, commit, arg};
  switch_to(self, self->next_local(), record);
}

void worker::finish_current(fiber* next) {
  worker* self = current();
  switch_record record{self->running_, after_switch::retire};
  switch_to(self, next, record);
  __builtin_unreachable();  // a retired context is never resumed
}

bool worker::hand_stack_over(fiber* finished, fiber* next) noexcept {
  // Only to a fiber that never ran and wants a stack like this one: the
  // stack is then reused where it is, with no switch, no new context and
  // no trip through the stack cache (the thread-pool case: a worker runs
  // one outside task after another).
  if (next == nullptr || next->context != nullptr ||
      next->stack_request != finished->stack_request) {
    return false;
  }
  next->stack = finished->stack;
  next->tsan_fiber = finished->tsan_fiber;
  finished->stack = fiber_stack{};
  finished->tsan_fiber = nullptr;
  // What retire() does after a switch; nothing runs on `finished` any more.
  core_.registry.remove(*finished, index_);
  release_reference(*finished);
  set_state(*next, run_state::created, run_state::running);
  running_ = next;
  *exceptions_ = exception_state{};  // a new fiber has caught nothing
  if (io_poll_due_) [[unlikely]]
    run_due_io_poll();  // as complete_switch would after a switch
  return true;
}

[[noreturn]] void fiber_entry(transfer t) noexcept {
  worker* w = worker::current();
  *w->exceptions_ = exception_state{};  // a new fiber has caught nothing
  w->complete_switch(t);
  fiber* self = w->running();
  for (;;) {
    run_body(*self);
    // The fiber may have moved: count on the worker it ends on. Counted
    // before the outcome is published, so a joiner that returns sees it in
    // runtime::stats() (retire() runs only after the last switch).
    w = worker::current();
    worker_counters::bump(w->counters_.completed);
    publish_outcome(*self);
    fiber* next = w->next_local();
    if (!w->hand_stack_over(self, next)) worker::finish_current(next);
    self = next;  // runs on this stack now
  }
}

}  // namespace weft::detail

namespace weft::this_fiber {

// Here, not in this_fiber.cpp, so that worker::yield_current() inlines.
void yield() {
  if (!detail::worker::yield_current()) std::this_thread::yield();  // a plain thread
}

}  // namespace weft::this_fiber

namespace weft {

// Here, beside current_worker, rather than in runtime.cpp as a call of
// worker::current(): one call less per spawn where the two are not merged
// (without LTO). Opaque for the same reason as worker::current().
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noipa))
#endif
[[gnu::noinline]] runtime*
runtime::current() noexcept {
  detail::worker* const w = detail::current_worker;
  return w ? &w->core().owner : nullptr;
}

}  // namespace weft
