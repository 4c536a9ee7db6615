// poller: waiting for file-descriptor readiness without blocking a worker.
// The base of weft::net (net.cpp) and of wait_readable / wait_writable.
//
// Shape. Each runtime has its own epoll set, harvested by its idle workers
// (io_poller.hpp); the table of descriptors is process-wide (fd_table.hpp).
// A fiber waits by arming its descriptor in its runtime's set and parking; a
// plain thread does not involve epoll at all: it blocks in ppoll(2).
//
// The descriptor table. Every descriptor number that was ever waited on or
// used through a socket handle has an `fd_entry`, found by number in a table
// of segments that double in size and are never freed, so an entry's address
// is stable and a harvesting worker may touch it at any time. An entry holds two wait
// lists (readers, writers); the readers list's lock guards both lists and
// every other field of the entry. Entries are reused when a number is reused.
//
// One-shot, armed per wait. A waiter that got EAGAIN links its node into the
// entry and, with the entry locked, arms the descriptor with
// EPOLL_CTL_MOD (or ADD) | EPOLLONESHOT for the union of what the linked
// waiters want. Arming re-evaluates readiness in the kernel, so readiness
// that appeared between the EAGAIN and the arming is reported at once: no
// edge can be lost, and no per-descriptor "ready" token is needed. A one-shot
// arming reports at most one event, after which the kernel disables it; the
// harvester re-arms only if waiters remain. Rejected: edge-triggered
// registration for the descriptor's whole life (Go, tokio) saves that
// epoll_ctl per parked wait, but needs to know the descriptor's life, which a
// wait on an arbitrary descriptor (wait_readable) does not, and needs the
// readiness-token protocol to catch an edge that fires while nobody is
// linked. Level-triggered without one-shot would report a ready descriptor
// on every epoll_wait until its waiter ran. To measure: the cost of the
// extra epoll_ctl on a ping-pong workload. (wrk, the benchmark we compare
// with, also makes one or two epoll_ctl calls per request.)
//
// Generations. Each arming, removal (DEL) and reset bumps the entry's `gen`;
// the event's data carries `fd | gen << 32`. The poller acts on an event only
// if its gen is the entry's current one; older events belong to an arming
// that was replaced or removed (an event may be in flight in the poller's
// buffer while its waiter times out and the descriptor is re-armed or
// closed, or moved to another runtime's set). An event delivered with the
// current gen reflects readiness after that arming (epoll re-polls the
// descriptor when it reports), so acting on it is never spurious.
//
// Invariants (under the entry lock):
//  - A linked node whose parker is still `waiting` is covered by `armed` in
//    the entry's `home` set, or by an event with the current gen that a
//    harvester has yet to process (`armed` is cleared only when a harvester
//    processes that event, and it then re-arms for the nodes left).
//  - `home` is non-null iff the descriptor may be in that set under the
//    current number's open file; null after a DEL, a reset, or the home
//    runtime's teardown.
//  - No node is linked and `users` is 0 when an entry is reset for a closed
//    descriptor.
//
// Waiting (fiber). Lock the entry; give up if the handle is closing; link
// the node; arm in the fiber's runtime's set; wait_claimed, whose park commit
// unlocks the entry after the fiber switched out (the lost-wake-up argument
// of waiting.hpp: a harvester needs the entry lock to claim). Whoever ends
// the wait wins the claim CAS: a harvester (status `ready`), a close
// (`canceled`), the teardown of the set it was armed in (`retry`: it waits
// again, in its own runtime's set), or the timer. The node is unlinked under
// the entry lock before wait_claimed returns, so once the wait has returned
// no harvester can reach it. After a timeout the waiter also removes the
// registration (DEL, gen bump) when no other waiter is linked: no arming
// outlives the waits it was for, and an event already in flight is dropped
// by its stale gen.
//
// Arming. A worker sleeping on its futex word does not see epoll events. So
// after arming, a fiber that finds no worker blocked in its runtime's set
// wakes one sleeper (idle_set::wake_one_sleeper), which on its way back to
// sleep takes the blocking role. This is again a store-load pattern on the
// idle state word (idle.hpp): the arming counts itself in the set's `armed_`
// before the RMW of wake_one_sleeper; a worker going to sleep makes the RMW
// of add_sleeper before it reads `armed_`. Either the waker sees the sleeper
// and wakes it, or the sleeper sees the arming and blocks in the set.
//
// Waking from outside a runtime. A harvester of one runtime waking a fiber of
// another, or a plain thread that closes a socket, wakes it through
// make_ready, which pushes it on its runtime's inject queue and then notifies
// that runtime's idle workers; runtime_core::schedule keeps the runtime
// alive until it has returned (`outside_wakers`). After the push the waker
// touches neither the node nor the parker (wake_chain reads `next` first).
//
// Closing a socket while others use it (tcp_listener::close() while a fiber
// is in accept()). A socket handle is an atomic<int>. Every call brackets its
// system calls with acquire_fd/release_fd, which count `users` under the
// entry lock after re-checking that the handle still holds the number.
// close_fd swaps -1 into the handle first, then, under the entry lock,
// claims every waiter with `canceled` and either closes the descriptor (no
// users) or leaves that to the last release_fd (`close_pending`, which also
// makes every new wait on the entry return `canceled`), after a
// shutdown(SHUT_RDWR) that wakes a plain thread blocked in ppoll(2). So a
// number is never closed (and reused) while a call that passed acquire_fd
// still uses it, and a call that starts after close_fd sees -1.
//
// Exit and fork. There is no poller thread to stop at exit: a runtime
// destroyed at exit (the default runtime) harvests its set until its last
// fiber has ended, like any other. In a child of fork(2) the epoll sets are
// shared with the parent: a pthread_atfork hook marks the child, where no
// epoll_ctl is ever made and every wait blocks in ppoll(2).
//
// Atomics: everything in an entry is guarded by its lock. The table's
// segment pointers are published with release and read with acquire
// (fd_table.hpp); the io_poller's hints are described in io_poller.hpp,
// "Invariants".
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::detail {

/// What a wait is for.
enum class io_interest : std::uint8_t { read, write };

/// How a wait ended.
enum class io_result : std::uint8_t {
  ready,      ///< the descriptor reported readiness (retry the system call)
  timed_out,  ///< the deadline passed first
  canceled,   ///< the socket handle was closed (close_fd) meanwhile
};

/// Waits until `fd` is ready for `what`, or until `deadline_ns` (steady-clock
/// ns, or no_deadline). A fiber parks on its runtime's epoll set; a plain thread blocks in
/// ppoll(2). An expired deadline polls once without waiting. A regular file
/// is always ready (as poll(2) says). Throws std::system_error for a
/// descriptor that cannot be waited on (EBADF, ...). Any thread or fiber.
io_result wait_io(int fd, io_interest what, std::int64_t deadline_ns);

/// Begins a call on the socket whose descriptor `handle` holds: returns the
/// descriptor, kept open until release_fd, or -1 if the handle is closed.
/// Any thread or fiber.
int acquire_fd(const std::atomic<int>& handle);
/// Ends a call begun by acquire_fd; closes the descriptor if close_fd ran
/// meanwhile and this was the last call. Any thread or fiber.
void release_fd(int fd) noexcept;
/// Closes the socket `handle` holds (no-op if it holds -1): stores -1, wakes
/// every waiter on the descriptor with io_result::canceled, and closes the
/// descriptor now or at the last release_fd. Any thread or fiber.
void close_fd(std::atomic<int>& handle) noexcept;
/// Closes a descriptor no other thread knows of (a failed connect's socket),
/// clearing its poller state first. Any thread or fiber.
void discard_fd(int fd) noexcept;

}  // namespace weft::detail
