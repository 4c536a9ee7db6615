// idle: which workers look for work and which sleep, and the protocol that
// wakes a sleeper when work appears, without lost wake-ups and without
// waking everyone.
//
// A worker out of local work becomes a *searcher* (steals, polls the inject
// queue and other workers' timers) for a bounded number of rounds, then a
// *sleeper* (futex wait on its own word, bounded by the earliest timer).
//
// Whoever makes a fiber runnable (spawn, wake, timer) calls
// notify_work_available(): if some worker is searching, it does nothing (the
// searcher will find the fiber, and a searcher that finds work while being
// the last searcher calls notify again, so wake-ups chain one worker at a
// time, as in Go's scheduler); else it pops one sleeper, counts it as a
// searcher on its behalf (so a burst of spawns wakes one worker, not all),
// and wakes it.
//
// No lost wake-up. This is a store-load (Dekker) pattern: the notifier
// publishes work, then reads the idle state; a sleeper publishes itself in
// the idle state, then re-reads every queue. Each side must see the other's
// publication. We get that without standalone fences (which ThreadSanitizer
// cannot model) by making both sides read-modify-write the *same* atomic
// word `state_` (searching and sleeping counts packed together):
//   notifier: push work ; state_.fetch_add(0, acq_rel) ; act on the value read
//   sleeper:  state_.fetch_add(sleeping+1, acq_rel) ; ... ; re-check all queues
// RMWs on one variable are totally ordered. If the notifier's comes later, it
// reads the sleeper's registration and wakes it. If it comes earlier, the
// sleeper's RMW reads from it (RMWs extend release sequences), so the push,
// sequenced before the notifier's release, happens-before the sleeper's
// re-check, which therefore sees the work and does not sleep. On x86 each
// RMW is one locked instruction, as cheap as the fence it replaces.
//
// Who re-checks. A worker whose registration (for a searcher: its
// end_search, the later of its two RMWs) reads another searcher in the word
// sleeps without the re-check: that searcher covers every push ordered
// before the RMW. It later either finds work and, as the last searcher,
// notifies (waking a sleeper), or goes to sleep itself, and then the last
// of the searchers to register reads no other and re-checks, after every
// earlier registration in the word's order. (A searcher that begins after
// a push's notify reads from it and so sees the push.) Without this rule, a
// worker refused the search (enough search already) that saw work on its
// way to sleep went round again, listing and un-listing itself under the
// sleepers' lock while the searchers took that work: with 8 workers on 2
// CPUs beside a thread pool's submitter, a fifth of the workers' samples.
//
// The run-next watch. A fiber woken on a worker goes to that worker's
// run-next slot (worker.hpp), which thieves leave alone, and that placement
// wakes nobody: the waker's worker runs it at its next switch. A slot is
// stranded only while its worker runs one fiber for long without switching;
// then an idle worker must take it within bounded time. That is the
// *watcher*'s job: at most one sleeping worker (the one holding the
// `watching` bit of state_) sleeps with a short timeout and steals a slot
// whose worker made no scheduling decision for a whole period. A sleeper
// takes the watch when a slot is occupied or another worker is awake (only
// an awake worker fills a slot), and keeps it until every other worker
// sleeps and no slot is occupied: a watcher that gave the watch up at the
// first empty look would be woken again by the next placement, and such a
// wake-up costs more than the 40 ns a round trip of two talking fibers
// takes (pingpong, 2 workers: 190 against 150 ns). The protocol:
//   placement: slot.exchange(f) ; notify_woken(): state_.load() ;
//              nobody searching, nobody watching, someone sleeping → wake one
//   sleeper:   add_sleeper / end_search RMWs ; re-read every slot ; occupied
//              → try_take_watch()
//   watcher:   release_watch(): state_.fetch_and(~watching) ; re-read slots
// All of these are seq_cst, so they fall in one total order: either the
// placement's load sees a sleeper with no watcher and no searcher (and
// wakes one, which searches and then re-reads the slots as it sleeps), or a
// searcher or watcher that will re-read the slot, or the sleeper's RMW
// comes later and its re-read sees the slot. (A load, not an RMW, on the
// placing side: one locked instruction per wake fewer on x86.)
// Where membarrier exists the placement is a plain store instead of the
// exchange (run_next_slot.hpp), and the re-reads may miss it; worker.cpp's
// sleep() and leave_watch() say why each miss is harmless or fenced.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "platform/spinlock.hpp"

namespace weft::detail {

class idle_set {
 public:
  /// `wake(index)` unparks worker `index` (stores 0 to its word, futex wake).
  using wake_fn = void (*)(void* context, unsigned index) noexcept;
  idle_set(unsigned workers, wake_fn wake, void* context);

  /// After work was published: wake one sleeper if nobody is searching. Any thread.
  void notify_work_available() noexcept;

  /// After a fiber was put in an empty run-next slot: wake one sleeper
  /// only if nobody searches, nobody watches the slots and someone sleeps
  /// (the woken worker searches, then takes the watch as it sleeps). Any thread.
  void notify_woken() noexcept;
  /// A sleeper saw an occupied run-next slot or another worker awake: take
  /// the watch unless another worker holds it. True if the caller is now
  /// the watcher.
  bool try_take_watch() noexcept;
  /// The watcher gives the watch up; it must re-read every slot afterwards
  /// (and take the watch again if one is occupied).
  void release_watch() noexcept;

  /// Wakes one sleeper, if any, whether or not someone searches (it will
  /// re-read the timer deadlines). Any thread.
  void wake_one_sleeper() noexcept;

  /// A worker wants to search. False if enough are searching already (at
  /// most half of the workers not asleep, as in Go: more spinners only burn
  /// CPU); then it should sleep.
  bool try_begin_search() noexcept;
  /// A searcher found work (or gives up: `found` false). If it was the last
  /// searcher and found work, there may be more: wake another. Returns the
  /// other workers searching at that moment.
  std::uint32_t end_search(bool found) noexcept;

  /// The calling worker is going to sleep: listed as a sleeper. Must be
  /// followed by a final re-check of all work sources (see above) unless
  /// another worker was searching at this call's (or, for a searcher, its
  /// end_search's) RMW: see "Who re-checks". Returns the workers searching
  /// then.
  std::uint32_t add_sleeper(unsigned index);
  /// Un-lists a sleeper that found work in its re-check or timed out. False
  /// if a notifier already popped it: then it was counted as a searcher and
  /// its word will be set to 0.
  bool remove_sleeper(unsigned index) noexcept;

  /// Relaxed snapshots, for heuristics only.
  [[nodiscard]] std::uint32_t sleeping() const noexcept {
    return sleeping_of(state_.load(std::memory_order_relaxed));
  }
  [[nodiscard]] std::uint32_t searching() const noexcept {
    return searching_of(state_.load(std::memory_order_relaxed));
  }
  /// Workers not listed as sleepers (a relaxed snapshot).
  [[nodiscard]] std::uint32_t awake() const noexcept { return workers_ - sleeping(); }

 private:
  void wake_sleeper(bool unless_searching) noexcept;

  const unsigned workers_;
  const wake_fn wake_;
  void* const wake_context_;
  // Bits 0-30: searching workers; bit 31: a sleeper watches the run-next
  // slots; bits 32-63: sleeping workers (== sleepers_.size(), readable
  // without the lock).
  static constexpr std::uint64_t one_searching = 1;
  static constexpr std::uint64_t watching = std::uint64_t{1} << 31;
  static constexpr std::uint64_t one_sleeping = std::uint64_t{1} << 32;
  static std::uint32_t searching_of(std::uint64_t s) noexcept {
    return static_cast<std::uint32_t>(s & (watching - 1));
  }
  static std::uint32_t sleeping_of(std::uint64_t s) noexcept {
    return static_cast<std::uint32_t>(s >> 32);
  }
  // Its own line: every outside spawn's notify RMWs it.
  alignas(64) std::atomic<std::uint64_t> state_{0};
  alignas(64) spinlock lock_;
  std::vector<unsigned>
      sleepers_;  // guarded by lock_; LIFO: the last to sleep has the warmest cache
};

}  // namespace weft::detail
