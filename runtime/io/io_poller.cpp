// One runtime's epoll set and its harvest. See io_poller.hpp.
#include "io/io_poller.hpp"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <system_error>

#include "fiber/fiber.hpp"
#include "platform/system_error.hpp"
#include "scheduler/timers.hpp"

namespace weft::detail {

namespace {

// What each kind of waiter arms, and which reported events wake it. EPOLLERR
// and EPOLLHUP are reported whether armed or not, and wake both kinds: the
// retried system call then reports the error or the end of the stream.
constexpr std::uint32_t read_interest = EPOLLIN | EPOLLRDHUP;
constexpr std::uint32_t write_interest = EPOLLOUT;
constexpr std::uint32_t wakes_readers = EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t wakes_writers = EPOLLOUT | EPOLLHUP | EPOLLERR;

// The eventfd's epoll data. Descriptor events carry a descriptor (< 2^31) in
// the low half, so they never equal it.
constexpr std::uint64_t wake_key = ~std::uint64_t{0};

// Set in a child of fork; seq_cst is not needed (the child has one thread
// when the hook runs), relaxed reads see it afterwards in that thread and
// the threads it starts.
std::atomic<bool> forked_child{false};

// Removes the eventfd's events from `out`; true if there was one.
bool drop_wake_events(io_events& out) noexcept {
  epoll_event* end = std::remove_if(out.events, out.events + out.count,
                                    [](const epoll_event& e) { return e.data.u64 == wake_key; });
  const bool seen = end != out.events + out.count;
  out.count = static_cast<int>(end - out.events);
  return seen;
}

}  // namespace

bool io_poller::in_forked_child() noexcept { return forked_child.load(std::memory_order_relaxed); }

io_poller::io_poller() {
  static std::once_flag fork_hook;
  std::call_once(fork_hook, [] {
    pthread_atfork(nullptr, nullptr, [] { forked_child.store(true, std::memory_order_relaxed); });
  });
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno(errno, "weft: epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: see "Interrupting" in io_poller.hpp
  ev.data.u64 = wake_key;
  if (wake_fd_ < 0 || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    const int err = errno;
    if (wake_fd_ >= 0) ::close(wake_fd_);
    ::close(epoll_fd_);
    throw_errno(err, "weft: eventfd");
  }
}

io_poller::~io_poller() {
  table().for_each([this](fd_entry& e) {
    lock(e.readers);
    if (e.home != this) {
      unlock(e.readers);
      return;
    }
    set_armed(e, 0);
    e.home = nullptr;  // the set goes away with epoll_fd_ below
    ++e.gen;
    waiter_node* chain = claim_every(e, io_status_retry);
    unlock(e.readers);
    wake_chain(chain);
  });
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void io_poller::set_armed(fd_entry& e, std::uint32_t want) noexcept {
  // seq_cst: with the seq_cst load of blocking_ after it, against end_blocking's
  // seq_cst store and the sleeper's later load of armed_ (io_poller.hpp,
  // "Invariants"): a store-load pair on two variables, which only seq_cst orders.
  if (e.armed == 0 && want != 0) armed_.fetch_add(1, std::memory_order_seq_cst);
  if (e.armed != 0 && want == 0) armed_.fetch_sub(1, std::memory_order_seq_cst);
  e.armed = want;
}

int io_poller::arm(int fd, fd_entry& e) noexcept {
  std::uint32_t want = 0;
  if (peek_claimable(e.readers) != nullptr) want |= read_interest;
  if (peek_claimable(e.writers) != nullptr) want |= write_interest;
  if (want == 0) return 0;
  if (e.home == this && (e.armed & want) == want) return 0;  // covered (poller.hpp, "Invariants")
  if (e.home != nullptr && e.home != this) remove_locked(fd, e);  // moves here
  // The new gen is stored only once the kernel took the arming: after a
  // failed MOD the old arming (and its gen) still stands.
  const std::uint32_t gen = e.gen + 1;
  epoll_event ev{};
  ev.events = want | EPOLLONESHOT;
  ev.data.u64 = (std::uint64_t{gen} << 32) | static_cast<std::uint32_t>(fd);
  int op = e.home == this ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (::epoll_ctl(epoll_fd_, op, fd, &ev) != 0) {
    // The entry can be wrong about the set: the number was closed (the
    // kernel dropped it) and reused, or a DEL failed.
    if ((op == EPOLL_CTL_MOD && errno == ENOENT) || (op == EPOLL_CTL_ADD && errno == EEXIST)) {
      op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
      if (::epoll_ctl(epoll_fd_, op, fd, &ev) != 0) return errno;
    } else {
      return errno;
    }
  }
  e.gen = gen;
  e.home = this;
  set_armed(e, want);
  return 0;
}

void io_poller::remove_locked(int fd, fd_entry& e) noexcept {
  if (io_poller* home = e.home) {
    if (!in_forked_child()) (void)::epoll_ctl(home->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    home->set_armed(e, 0);
  }
  e.home = nullptr;
  ++e.gen;
}

bool io_poller::poll_now() noexcept {
  // Few events at a time: this may run on a fiber's stack (worker.cpp).
  constexpr int batch = 16;
  epoll_event taken[batch];
  const int n = ::epoll_wait(epoll_fd_, taken, batch, 0);
  bool any = false;
  for (int i = 0; i < n; ++i) {  // n < 0: EINTR, nothing taken
    // The eventfd's event is not ours to drain: see "Interrupting".
    if (taken[i].data.u64 == wake_key) continue;
    dispatch_one(taken[i].data.u64, taken[i].events);
    any = true;
  }
  return any;
}

bool io_poller::try_begin_blocking() noexcept {
  // acquire/release: the role passes from one worker to the next; nothing
  // else is published through it.
  bool expected = false;
  return blocking_.compare_exchange_strong(expected, true, std::memory_order_acquire,
                                           std::memory_order_relaxed);
}

void io_poller::end_blocking() noexcept {
  blocking_.store(false, std::memory_order_seq_cst);  // see set_armed
}

void io_poller::wait(io_events& out, std::int64_t deadline_ns) noexcept {
  time_left left(deadline_ns);
  timespec* const limit = left.limit();
  // relaxed: a cache; every thread may find out for itself.
  static std::atomic<bool> pwait2_missing{false};
  int n = -1;
  if (!pwait2_missing.load(std::memory_order_relaxed)) {
    n = ::epoll_pwait2(epoll_fd_, out.events, io_events::capacity, limit, nullptr);
    // ENOSYS: Linux < 5.11; EPERM: a seccomp filter older than the call
    // (container runtimes' default profiles answer EPERM to unknown calls).
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
      pwait2_missing.store(true, std::memory_order_relaxed);
    }
  }
  if (pwait2_missing.load(std::memory_order_relaxed)) {  // millisecond timeouts, rounded up
    const int ms = limit == nullptr
                       ? -1
                       : static_cast<int>(std::min<std::int64_t>(
                             (limit->tv_sec * 1'000'000'000 + limit->tv_nsec + 999'999) / 1'000'000,
                             1'000'000'000));
    n = ::epoll_wait(epoll_fd_, out.events, io_events::capacity, ms);
  }
  if (n < 0) {
    if (errno != EINTR) {
      std::fprintf(stderr, "weft: epoll_wait failed: %s\n", std::strerror(errno));
      std::abort();
    }
    n = 0;
  }
  out.count = n;
  if (drop_wake_events(out)) {
    std::uint64_t count = 0;
    (void)::read(wake_fd_, &count, sizeof count);  // back to 0 (EAGAIN if already)
  }
}

void io_poller::interrupt() noexcept {
  const std::uint64_t one = 1;
  (void)::write(wake_fd_, &one, sizeof one);  // cannot fail short of an overflow of 2^64 - 1
}

void io_poller::dispatch(const io_events& in) noexcept {
  for (int i = 0; i < in.count; ++i) dispatch_one(in.events[i].data.u64, in.events[i].events);
}

// A worker of this runtime, without any entry lock.
void io_poller::dispatch_one(std::uint64_t data, std::uint32_t events) noexcept {
  const auto fd = static_cast<int>(data & 0xFFFF'FFFF);
  const auto gen = static_cast<std::uint32_t>(data >> 32);
  fd_entry* e = table().find(fd);
  if (e == nullptr) return;  // cannot happen: an armed descriptor has an entry
  waiter_node* head = nullptr;
  waiter_node** tail = &head;
  lock(e->readers);
  if (e->home != this || e->gen != gen) {  // replaced or removed: see "Generations"
    unlock(e->readers);
    return;
  }
  set_armed(*e, 0);  // one-shot: this arming is used up
  if (events & wakes_readers) claim_into(e->readers, io_status_ready, head, tail);
  if (events & wakes_writers) claim_into(e->writers, io_status_ready, head, tail);
  if (arm(fd, *e) != 0) {
    // Cannot re-arm (the descriptor was closed under its waiters): wake them
    // all; their system calls report the error.
    claim_into(e->readers, io_status_ready, head, tail);
    claim_into(e->writers, io_status_ready, head, tail);
  }
  unlock(e->readers);
  wake_chain(head);
}

}  // namespace weft::detail
