// io_poller: one runtime's epoll set, harvested by the runtime's own idle
// workers. There is no poller thread.
//
// Shape. A runtime creates its io_poller on the first wait for readiness by
// one of its fibers (runtime_core::io), so a runtime that does no I/O has no
// epoll descriptor. A fiber that must wait arms its descriptor here (one-shot,
// poller.hpp) and parks. Events are taken out of the set by the workers of
// the runtime, at three points of the scheduling loop (worker.cpp):
//  - a worker about to sleep, if descriptors are armed and no other worker
//    already does so, sleeps in epoll_pwait2 instead of on its futex word
//    (bounded by the earliest timer, as the futex sleep is). It is still a
//    listed sleeper: a notifier that picks it interrupts the wait through an
//    eventfd instead of futex_wake (see "Interrupting" below);
//  - a searching worker polls once without blocking, unless a worker is
//    already blocked in the set;
//  - on the fairness tick (every 61st pick) a busy worker polls once
//    without blocking, unless a worker is blocked in the set, so that I/O is
//    not left behind when every worker is busy. The tick may come while a
//    parking fiber still holds its wait-list locks (they are released by the
//    commit step after the switch), and harvesting takes entry locks: so the
//    tick only marks the poll due, and it runs at the end of the switch,
//    after the commit (worker::complete_switch), or in yield_current when
//    the yielder finds nothing else to run and does not switch at all.
// The waiters of an event are woken with make_ready from the harvesting
// worker: onto its own deque (the harvester is a worker of the runtime), so a
// single-worker runtime runs like an event loop: epoll, run what is ready,
// epoll again, with no thread hand-off in between.
//
// Why not a poller thread (measured, docs/benchmarks.md "I/O harvesting").
// A thread blocked in epoll_wait hands each batch of events to the workers:
// push on the inject queue, futex-wake a sleeping worker, which then takes
// them from the queue: two thread wake-ups per batch where harvesting from
// the idle worker has none (the sleeping worker itself is woken by the
// kernel). On the weft-load vs nginx benchmark this was the difference.
// Go's netpoller works the same way (findrunnable polls; one M blocks in
// netpoll); tokio drives its I/O driver from the worker that parks.
//
// Which set a descriptor is in. The descriptor table is process-wide
// (fd_table.hpp); an entry in a set records that set as its `home`. A
// waiter arms in its own runtime's set; if the descriptor is registered in
// another runtime's set (fibers of two runtimes sharing a socket), arming
// moves it: DEL there (the gen bump drops events in flight), ADD here, for
// the union of what every linked waiter wants. Waiters of the other runtime
// are then woken by this runtime's harvest, through make_ready onto their own
// runtime's inject queue: a fiber is always woken where it belongs.
//
// Teardown. The runtime destroys its io_poller after its last fiber ended
// and its workers were joined. Any entry still at home here (armed for
// waiters of another runtime, or merely registered) is cleared under its
// lock, and its waiters are claimed with io_status_retry: they arm again in
// their own runtime's set. Only then are the epoll descriptor and the eventfd
// closed.
//
// Interrupting a blocked worker. The blocked worker's futex word (worker.hpp)
// holds 2 while it is, or is about to be, in epoll_pwait2; unpark() exchanges
// 0 into the word and, if it read 2, writes the eventfd. The worker moves the
// word 1 -> 2 with a CAS before it blocks and 2 -> 1 after, so either the CAS
// fails (it was unparked: it does not block) or the unparker reads 2 and
// writes the eventfd, which makes the wait return at once, even if it starts
// after the write (the eventfd is level-triggered in the set). Only the
// blocked worker reads the eventfd back to 0: a non-blocking poll that sees
// its event ignores it, or it could consume the write meant for a worker
// that is about to block.
//
// Invariants: `blocking_` is true while one worker holds the blocking role
// (at most one). `armed_` counts the entries at home here with `armed` != 0;
// it changes under those entries' locks. Both are hints: a worker that
// misses an arming is covered by the arming side, which wakes a sleeper when
// no worker is blocked in the set (poller.hpp, "Arming"). That needs one more
// ordering: the arming side writes `armed_` then reads `blocking_`, a worker
// giving the role up writes `blocking_` then (on its way back to sleep)
// reads `armed_`; a store-load pair on two variables, so all four accesses
// are seq_cst, or on a weakly ordered CPU both could read the old value and
// the worker would sleep on its futex while the arming skipped the wake.
//
// Sharing a descriptor between runtimes couples them: while a registration
// is at home in runtime B's set, the waiters of runtime A on it are
// harvested by B's workers (and, with all of B's workers busy, by B's
// fairness step), not by A's idle ones. Fibers of different runtimes rarely
// wait on one descriptor; when they do, that is the price of one
// registration per descriptor.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>

#include "io/fd_table.hpp"

namespace weft::detail {

/// Room for the events one harvest takes (more wait for the next one).
struct io_events {
  static constexpr int capacity = 128;
  epoll_event events[capacity];
  int count = 0;
};

class io_poller {
 public:
  /// Throws std::system_error if epoll or its eventfd cannot be created.
  io_poller();
  /// Clears the entries at home here and sends their waiters to wait again
  /// (see "Teardown"). After the runtime's workers were joined.
  ~io_poller();
  io_poller(const io_poller&) = delete;
  io_poller& operator=(const io_poller&) = delete;

  /// With e's lock held: registers `fd` here (moving it from another set if
  /// needed) for what the claimable waiters of `e` want, unless the arming
  /// in flight covers it. Returns 0 or the errno of epoll_ctl.
  int arm(int fd, fd_entry& e) noexcept;
  /// With e's lock held: takes `fd` out of its home set, if any, and bumps
  /// the gen so an event in flight is dropped. Leaves the set alone in a
  /// child of fork (it shares the parent's).
  static void remove_locked(int fd, fd_entry& e) noexcept;

  /// Hints for the workers (see "Invariants"); seq_cst, see set_armed().
  [[nodiscard]] bool has_armed() const noexcept {
    return armed_.load(std::memory_order_seq_cst) > 0;
  }
  [[nodiscard]] bool has_blocked_worker() const noexcept {
    return blocking_.load(std::memory_order_seq_cst);
  }

  /// Takes the events ready now (a few) and wakes their waiters. Returns
  /// true if it took any. A worker of this runtime, holding no wait-list
  /// lock (a waiter's entry lock may be needed); on any stack.
  bool poll_now() noexcept;

  /// Takes the blocking role; false if another worker holds it.
  bool try_begin_blocking() noexcept;
  /// Gives the blocking role back.
  void end_blocking() noexcept;
  /// With the blocking role: waits until an event, interrupt() or
  /// `deadline_ns` (steady ns or no_deadline), and leaves the events taken in
  /// `out` (the eventfd's removed), to be passed to dispatch() once the
  /// worker no longer counts as a sleeper.
  void wait(io_events& out, std::int64_t deadline_ns) noexcept;
  /// Wakes the waiters of `in`'s events.
  void dispatch(const io_events& in) noexcept;
  /// Makes the blocked wait() return. Any thread.
  void interrupt() noexcept;

  /// True in a child of fork(2): its sets are the parent's; never touch them.
  static bool in_forked_child() noexcept;

 private:
  /// With e's lock held: sets e.armed, keeping armed_ in step.
  void set_armed(fd_entry& e, std::uint32_t want) noexcept;
  void dispatch_one(std::uint64_t data, std::uint32_t events) noexcept;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  ///< eventfd: interrupt() writes it, the blocked worker reads it
  std::atomic<bool> blocking_{false};
  std::atomic<std::int64_t> armed_{0};
};

}  // namespace weft::detail
