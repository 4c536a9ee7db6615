// poller: waiting for file-descriptor readiness without blocking a worker.
// The base of weft::net (net.cpp) and of wait_readable / wait_writable.
//
// Shape. One poller per process, created on first use and never destroyed
// (as the blocking pool, so no exit-time ordering with a runtime that is
// still draining fibers that wait on I/O). Its thread blocks in epoll_wait
// and, for each event, claims and wakes the waiters of that descriptor
// through the wait-list mechanism (waiting.hpp). Waking from this non-worker
// thread goes through the runtime's inject queue (make_ready). A fiber waits
// by parking; a plain thread does not involve the poller at all: it blocks
// in ppoll(2).
//
// The descriptor table. Every descriptor number that was ever waited on or
// used through a socket handle has an `fd_entry`, found by number in a table
// of segments that double in size and are never freed, so an entry's address
// is stable and the poller may touch it at any time. An entry holds two wait
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
// poller re-arms only if waiters remain. Rejected: edge-triggered
// registration for the descriptor's whole life (Go, tokio) saves that
// epoll_ctl per parked wait, but needs to know the descriptor's life, which a
// wait on an arbitrary descriptor (wait_readable) does not, and needs the
// readiness-token protocol to catch an edge that fires while nobody is
// linked. Level-triggered without one-shot would report a ready descriptor
// on every epoll_wait until its waiter ran. To measure: the cost of the
// extra epoll_ctl on a ping-pong workload.
//
// Generations. Each arming, removal (DEL) and reset bumps the entry's `gen`;
// the event's data carries `fd | gen << 32`. The poller acts on an event only
// if its gen is the entry's current one; older events belong to an arming
// that was replaced or removed (an event may be in flight in the poller's
// buffer while its waiter times out and the descriptor is re-armed or
// closed). An event delivered with the current gen reflects readiness after
// that arming (epoll re-polls the descriptor when it reports), so acting on
// it is never spurious.
//
// Invariants (under the entry lock):
//  - A linked node whose parker is still `waiting` is covered by `armed`, or
//    by an event with the current gen that the poller has yet to process
//    (`armed` is cleared only when the poller processes that event, and it
//    then re-arms for the nodes left).
//  - `in_epoll` is true iff the descriptor may be in the epoll set under the
//    current number's open file; false after a DEL or a reset.
//  - No node is linked and `users` is 0 when an entry is reset for a closed
//    descriptor.
//
// Waiting (fiber). Lock the entry; give up if the handle is closing or the
// poller stopped; link the node; arm; wait_claimed, whose park commit
// unlocks the entry after the fiber switched out (the lost-wake-up argument
// of waiting.hpp: the poller needs the entry lock to claim). Whoever ends the
// wait wins the claim CAS: the poller (status `ready`), a close (`canceled`),
// the exit-time stop (`retry`), or the timer. The node is unlinked under the
// entry lock before wait_claimed returns, so once the wait has returned the
// poller can no longer reach it. After a timeout the waiter also removes the
// registration (DEL, gen bump) when no other waiter is linked: no arming
// outlives the waits it was for, and an event already in flight is dropped
// by its stale gen.
//
// Waking from outside a runtime. The poller thread (and a plain thread that
// closes a socket) wakes a fiber through make_ready, which pushes it on its
// runtime's inject queue and then notifies the runtime's idle workers. Once
// pushed, the fiber may run, finish, and let its runtime be destroyed while
// the waker is still inside that notification (runtime_core::schedule reads
// the runtime after the push). So every waiter of the poller, once claimed by
// a waker (not by its timer, which runs on a worker of its own runtime),
// waits on its stack for `waker_done`, which the waker stores after wake()
// returned; only then does it return. The spin is the tail of one function
// call on another thread. (A fix inside schedule would make this handshake
// unnecessary.)
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
// Exit and fork. An atexit hook stops the thread (an eventfd wakes it; then it
// is joined), then wakes every parked waiter with `retry`: from then on every
// wait blocks in ppoll(2), so fibers of a runtime destroyed later (the default
// runtime) still finish their I/O. In a child of fork(2) the thread does not
// exist and the epoll set is shared with the parent: a pthread_atfork hook
// marks the poller stopped there, and a stopped poller never calls epoll_ctl.
//
// Atomics: everything in an entry is guarded by its lock. `stopped_` and the
// table's segment pointers are seq_cst: a waiter publishes a new segment and
// then reads `stopped_`, while stop() stores `stopped_` and then reads the
// segment pointers to sweep them: the store-load pattern of Dekker's
// algorithm, so one of them sees the other (with acquire/release, both could
// miss each other and a fiber would park on a stopped poller).
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
/// ns, or no_deadline). A fiber parks on the poller; a plain thread blocks in
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
