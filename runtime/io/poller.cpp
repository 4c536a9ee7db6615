// Waiting for readiness, and the socket handles' descriptor protocol. See
// poller.hpp for the protocol, io_poller.hpp for the epoll sets.
#include "io/poller.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <system_error>

#include "fiber/fiber.hpp"
#include "io/fd_table.hpp"
#include "io/io_poller.hpp"
#include "platform/system_error.hpp"
#include "scheduler/park.hpp"
#include "scheduler/runtime_core.hpp"
#include "scheduler/worker.hpp"
#include "sync/waiting.hpp"

namespace weft::detail {

namespace {

// Parks the calling fiber until `fd` is ready for `what`, the deadline, or a
// close. False if the wait must start again: the set it was armed in went
// away with its runtime (io_poller.hpp, "Teardown").
bool wait_parked(runtime_core& core, int fd, fd_entry& e, io_interest what,
                 std::int64_t deadline_ns, io_result& result) {
  io_poller& mine = core.io();
  lock(e.readers);
  if (e.close_pending) {
    unlock(e.readers);
    result = io_result::canceled;
    return true;
  }
  parker p(current_waiter());
  waiter_node node(p);
  push_back(what == io_interest::read ? e.readers : e.writers, node, &e.readers);
  if (const int err = mine.arm(fd, e)) {
    unlink(*node.home, node);
    unlock(e.readers);
    if (err == EPERM) {  // a regular file or directory: always ready, as poll(2) says
      result = io_result::ready;
      return true;
    }
    throw_errno(err, "weft: epoll_ctl");
  }
  // See "Arming" in poller.hpp: no worker may be left sleeping on its futex
  // while this arming waits for a harvester.
  if (!mine.has_blocked_worker()) core.idle.wake_one_sleeper();
  const std::uint32_t outcome = wait_claimed(p, e.readers, node, deadline_ns, wait_kind::io, &e);
  if (outcome == parker::timed_out || outcome == parker::cancelled) {
    // Leave no arming behind (see "Waiting"), unless another waiter needs it.
    {
      list_guard hold(e.readers);
      if (empty(e.readers) && empty(e.writers)) io_poller::remove_locked(fd, e);
    }
    if (outcome == parker::cancelled) throw_cancelled();
    result = io_result::timed_out;
    return true;
  }
  switch (node.status) {
    case io_status_canceled:
      result = io_result::canceled;
      return true;
    case io_status_retry:
      return false;
    default:
      result = io_result::ready;
      return true;
  }
}

bool closing(fd_entry& e) noexcept {
  list_guard hold(e.readers);
  return e.close_pending;
}

// A plain thread's wait; a fiber's too when its deadline has passed (one poll) or in
// a child of fork.
io_result wait_ppoll(fd_entry& e, int fd, io_interest what, std::int64_t deadline_ns) {
  pollfd pfd{};
  pfd.fd = fd;
  pfd.events = what == io_interest::read ? POLLIN : POLLOUT;
  for (;;) {
    if (closing(e)) return io_result::canceled;
    time_left left(deadline_ns);
    const int n = ::ppoll(&pfd, 1, left.limit(), nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "weft: ppoll");
    }
    if (closing(e)) return io_result::canceled;
    if (n == 0) {
      if (steady_now_ns() >= deadline_ns) return io_result::timed_out;
      continue;  // woke a little early by our clock
    }
    if (pfd.revents & POLLNVAL) throw_errno(EBADF, "weft: ppoll");
    return io_result::ready;
  }
}

// With e's lock held: the descriptor is about to be closed; forget it.
void reset_locked(int fd, fd_entry& e) noexcept {
  io_poller::remove_locked(fd, e);
  e.users = 0;
  e.close_pending = false;
}

}  // namespace

io_result wait_io(int fd, io_interest what, std::int64_t deadline_ns) {
  if (fd < 0) throw_errno(EBADF, "weft: wait on a descriptor");
  fd_entry& e = table().get(fd);
  const bool expired = deadline_ns != no_deadline && deadline_ns <= steady_now_ns();
  if (current_fiber() != nullptr && !expired && !io_poller::in_forked_child()) {
    runtime_core& core = worker::current()->core();
    io_result result;
    while (!wait_parked(core, fd, e, what, deadline_ns, result)) {
    }
    return result;
  }
  return wait_ppoll(e, fd, what, deadline_ns);
}

int acquire_fd(const std::atomic<int>& handle) {
  // relaxed: a stale value is caught by the re-check below.
  const int fd = handle.load(std::memory_order_relaxed);
  if (fd < 0) return -1;
  fd_entry& e = table().get(fd);
  list_guard hold(e.readers);
  // relaxed: close_fd swaps -1 in before it takes this lock, so if it took
  // the lock first, the lock's acquire makes -1 visible here; if we hold it
  // first, close_fd will see users > 0.
  if (handle.load(std::memory_order_relaxed) != fd) return -1;
  ++e.users;
  return fd;
}

void release_fd(int fd) noexcept {
  fd_entry* e = table().find(fd);  // exists: acquire_fd created it
  bool close_now = false;
  {
    list_guard hold(e->readers);
    if (--e->users == 0 && e->close_pending) {
      reset_locked(fd, *e);
      close_now = true;
    }
  }
  // After the unlock: the number cannot be reused before this close.
  if (close_now) ::close(fd);
}

void close_fd(std::atomic<int>& handle) noexcept {
  // acq_rel: one closer wins the descriptor; see acquire_fd for the order.
  const int fd = handle.exchange(-1, std::memory_order_acq_rel);
  if (fd < 0) return;
  fd_entry& e = table().get(fd);  // (bad_alloc terminates: see design.md, "Known limits")
  bool close_now = false;
  waiter_node* chain = nullptr;
  {
    list_guard hold(e.readers);
    chain = claim_every(e, io_status_canceled);
    if (e.users > 0) {
      // A call is still using the number: the last release_fd closes it.
      // shutdown wakes a plain thread blocked in ppoll (under the lock, while
      // `users` keeps the number open); errors (not connected) do not matter.
      e.close_pending = true;
      (void)::shutdown(fd, SHUT_RDWR);
    } else {
      reset_locked(fd, e);
      close_now = true;
    }
  }
  wake_chain(chain);
  if (close_now) ::close(fd);
}

void discard_fd(int fd) noexcept {
  if (fd_entry* e = table().find(fd)) {
    list_guard hold(e->readers);
    reset_locked(fd, *e);
  }
  ::close(fd);
}

}  // namespace weft::detail
