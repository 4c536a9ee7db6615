// The poller and the descriptor table. See poller.hpp for the protocol.
#include "poller.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <system_error>
#include <thread>

#include "fiber.hpp"
#include "park.hpp"
#include "spinlock.hpp"
#include "waiting.hpp"

namespace weft::detail {

namespace {

// node.status: how the claimer ended the wait (written under the entry lock
// before the wake, read by the waiter after it).
constexpr std::uint32_t status_ready = 1;     // the poller saw readiness
constexpr std::uint32_t status_canceled = 2;  // close_fd
constexpr std::uint32_t status_retry = 3;     // the poller stopped: wait with ppoll instead

// What each kind of waiter arms, and which reported events wake it. EPOLLERR
// and EPOLLHUP are reported whether armed or not, and wake both kinds: the
// retried system call then reports the error or the end of the stream.
constexpr std::uint32_t read_interest = EPOLLIN | EPOLLRDHUP;
constexpr std::uint32_t write_interest = EPOLLOUT;
constexpr std::uint32_t wakes_readers = EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t wakes_writers = EPOLLOUT | EPOLLHUP | EPOLLERR;

// The eventfd's epoll data. Descriptor events have a descriptor (< 2^31) in
// the low half, so they never equal it.
constexpr std::uint64_t stop_key = ~std::uint64_t{0};

// The events one epoll_wait returns at most; more wait for the next call. A
// guess; larger batches only matter with thousands of ready descriptors.
constexpr int event_batch = 256;

/// The poller's state for one descriptor number. Lives forever (fd_table).
struct fd_entry {
  wait_list readers;  ///< its lock guards every field of the entry
  wait_list writers;  ///< guarded by readers' lock
  /// Bumped by every arming, DEL and reset; the high half of the epoll data.
  std::uint32_t gen = 0;
  /// Interest of the arming whose event the poller has not processed yet; 0 if none.
  std::uint32_t armed = 0;
  std::uint32_t users = 0;     ///< calls between acquire_fd and release_fd
  bool in_epoll = false;       ///< see poller.hpp, "Invariants"
  bool close_pending = false;  ///< close_fd ran while users > 0
};

/// Entries by descriptor number, in segments that double in size (64, 64,
/// 128, 256, ...) so memory follows the largest number used; never freed, so
/// an entry's address is stable. Any thread.
class fd_table {
 public:
  fd_table() = default;
  fd_table(const fd_table&) = delete;
  fd_table& operator=(const fd_table&) = delete;

  /// The entry of `fd` (>= 0), created if needed. Throws std::bad_alloc.
  fd_entry& get(int fd) {
    const slot at = slot_of(fd);
    // seq_cst: see poller.hpp, "Atomics" (and acquire: the new segment's
    // entries are constructed before the pointer is published).
    fd_entry* seg = segments_[at.segment].load(std::memory_order_seq_cst);
    if (seg == nullptr) {
      auto* fresh = new fd_entry[segment_size(at.segment)];
      if (segments_[at.segment].compare_exchange_strong(seg, fresh, std::memory_order_seq_cst)) {
        seg = fresh;
      } else {
        delete[] fresh;  // another thread published one first; `seg` holds it
      }
    }
    return seg[at.index];
  }

  /// The entry of `fd` if its segment exists, else nullptr.
  fd_entry* find(int fd) const noexcept {
    const slot at = slot_of(fd);
    fd_entry* seg = segments_[at.segment].load(std::memory_order_seq_cst);
    return seg ? seg + at.index : nullptr;
  }

  /// Calls f(entry) for every entry that exists.
  template <class F>
  void for_each(F f) {
    for (int s = 0; s < segment_count; ++s) {
      fd_entry* seg = segments_[s].load(std::memory_order_seq_cst);
      if (seg == nullptr) continue;
      for (std::size_t i = 0; i < segment_size(s); ++i) f(seg[i]);
    }
  }

 private:
  static constexpr int first_bits = 6;  // segment 0 holds numbers [0, 64)
  // Segment s >= 1 holds [2^(s+5), 2^(s+6)); 26 segments cover every int >= 0.
  static constexpr int segment_count = 32 - first_bits;
  struct slot {
    int segment;
    std::size_t index;
  };
  static std::size_t segment_size(int s) noexcept {
    return std::size_t{1} << (s == 0 ? first_bits : s + first_bits - 1);
  }
  static slot slot_of(int fd) noexcept {
    const auto n = static_cast<std::uint32_t>(fd);
    if (n < (std::uint32_t{1} << first_bits)) return {0, n};
    const int s = std::bit_width(n) - first_bits;
    return {s, n - (std::uint32_t{1} << (s + first_bits - 1))};
  }

  std::atomic<fd_entry*> segments_[segment_count]{};
};

fd_table& table() {
  static fd_table* const instance = new fd_table();  // never destroyed: the poller outlives exit
  return *instance;
}

/// Claims every waiter of `list` (stale nodes are dropped), marks it with
/// `status` and appends it to a chain. With the entry lock held.
void claim_into(wait_list& list, std::uint32_t status, waiter_node*& head,
                waiter_node**& tail) noexcept {
  while (waiter_node* node = claim_first(list)) {
    node->status = status;
    append_claimed(head, tail, node);
  }
}

waiter_node* claim_every(fd_entry& e, std::uint32_t status) noexcept {
  waiter_node* head = nullptr;
  waiter_node** tail = &head;
  claim_into(e.readers, status, head, tail);
  claim_into(e.writers, status, head, tail);
  return head;
}

/// Wakes every waiter of a chain built by claim_into, then tells each one
/// that its waker is done with the runtime (see "Waking from outside a
/// runtime" in poller.hpp). Without the entry lock.
void wake_all(waiter_node* chain) noexcept {
  while (chain != nullptr) {
    waiter_node* next = chain->next;  // read before the wake, as wake_chain does
    auto* waker_done = static_cast<std::atomic<bool>*>(chain->payload);
    wake(*chain->owner);
    // release: pairs with the waiter's acquire spin in wait_parked; after
    // this store we touch neither the node nor the waiter's runtime.
    waker_done->store(true, std::memory_order_release);
    chain = next;
  }
}

[[noreturn]] void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

/// The epoll thread and its descriptors. One per process (instance()).
class poller {
 public:
  /// The process-wide poller, started on first call. Throws
  /// std::system_error if epoll or its thread cannot be created (the next
  /// call tries again).
  static poller& instance();
  /// The poller if it was started, else nullptr.
  static poller* existing() noexcept { return started_.load(std::memory_order_acquire); }

  /// True once stopped (at exit, or in a child of fork). seq_cst: see poller.hpp.
  [[nodiscard]] bool stopped() const noexcept { return stopped_.load(std::memory_order_seq_cst); }

  /// Parks the calling fiber until `fd` is ready for `what`, the deadline,
  /// or a close. False if the caller must wait with ppoll instead (the
  /// poller stopped). Fiber only.
  bool wait_parked(int fd, fd_entry& e, io_interest what, std::int64_t deadline_ns,
                   io_result& result);

  /// Removes `fd` from the epoll set if it is there and bumps the gen (so an
  /// event in flight is dropped). With e's lock held.
  void remove_locked(int fd, fd_entry& e) noexcept;

 private:
  poller();

  void run() noexcept;
  void dispatch(std::uint64_t data, std::uint32_t events) noexcept;
  int arm(int fd, fd_entry& e) noexcept;
  void stop() noexcept;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop() writes it to end run()
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  static std::atomic<poller*> started_;
};

std::atomic<poller*> poller::started_{nullptr};

poller& poller::instance() {
  static poller* const self = [] {
    auto* made = new poller();  // never destroyed: see poller.hpp, "Shape"
    std::atexit([] { instance().stop(); });
    // In a child of fork the thread is gone and the epoll set is the
    // parent's: never touch it there.
    pthread_atfork(nullptr, nullptr,
                   [] { instance().stopped_.store(true, std::memory_order_seq_cst); });
    // release: pairs with existing()'s acquire; the poller is constructed.
    started_.store(made, std::memory_order_release);
    return made;
  }();
  return *self;
}

poller::poller() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno(errno, "weft: epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = stop_key;
  if (wake_fd_ < 0 || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    const int err = errno;
    if (wake_fd_ >= 0) ::close(wake_fd_);
    ::close(epoll_fd_);
    throw_errno(err, "weft: eventfd");
  }
  // The thread runs no user code: block every signal in it, so that
  // process-directed signals go to threads that handle them. It inherits
  // the mask in effect while it is created.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    ::close(wake_fd_);
    ::close(epoll_fd_);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void poller::run() noexcept {
  pthread_setname_np(pthread_self(), "weft-poller");
  epoll_event events[event_batch];
  for (;;) {
    const int n = ::epoll_wait(epoll_fd_, events, event_batch, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "weft: epoll_wait failed: %s\n", std::strerror(errno));
      std::abort();
    }
    bool stop_seen = false;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == stop_key) {
        stop_seen = true;
      } else {
        dispatch(events[i].data.u64, events[i].events);
      }
    }
    if (stop_seen) return;
  }
}

// Poller thread only.
void poller::dispatch(std::uint64_t data, std::uint32_t events) noexcept {
  const auto fd = static_cast<int>(data & 0xFFFF'FFFF);
  const auto gen = static_cast<std::uint32_t>(data >> 32);
  fd_entry* e = table().find(fd);
  if (e == nullptr) return;  // cannot happen: an armed descriptor has an entry
  waiter_node* head = nullptr;
  waiter_node** tail = &head;
  lock(e->readers);
  if (e->gen != gen) {  // an arming that was replaced or removed: see "Generations"
    unlock(e->readers);
    return;
  }
  e->armed = 0;  // one-shot: this arming is used up
  if (events & wakes_readers) claim_into(e->readers, status_ready, head, tail);
  if (events & wakes_writers) claim_into(e->writers, status_ready, head, tail);
  if (arm(fd, *e) != 0) {
    // Cannot re-arm (the descriptor was closed under its waiters): wake them
    // all; their system calls report the error.
    claim_into(e->readers, status_ready, head, tail);
    claim_into(e->writers, status_ready, head, tail);
  }
  unlock(e->readers);
  wake_all(head);
}

// With e's lock held. Arms `fd` for what the claimable waiters want, unless
// the pending arming already covers it. Returns 0 or the errno of epoll_ctl.
int poller::arm(int fd, fd_entry& e) noexcept {
  std::uint32_t want = 0;
  if (peek_claimable(e.readers) != nullptr) want |= read_interest;
  if (peek_claimable(e.writers) != nullptr) want |= write_interest;
  if ((e.armed & want) == want) return 0;  // nothing to arm, or covered (see "Invariants")
  ++e.gen;
  epoll_event ev{};
  ev.events = want | EPOLLONESHOT;
  ev.data.u64 = (std::uint64_t{e.gen} << 32) | static_cast<std::uint32_t>(fd);
  int op = e.in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
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
  e.in_epoll = true;
  e.armed = want;
  return 0;
}

void poller::remove_locked(int fd, fd_entry& e) noexcept {
  // A stopped poller leaves the set alone (a forked child shares it).
  if (e.in_epoll && !stopped()) (void)::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  e.in_epoll = false;
  e.armed = 0;
  ++e.gen;
}

bool poller::wait_parked(int fd, fd_entry& e, io_interest what, std::int64_t deadline_ns,
                         io_result& result) {
  lock(e.readers);
  if (e.close_pending) {
    unlock(e.readers);
    result = io_result::canceled;
    return true;
  }
  if (stopped()) {
    unlock(e.readers);
    return false;
  }
  parker p(current_waiter());
  waiter_node node(p);
  std::atomic<bool> waker_done{false};
  node.payload = &waker_done;
  push_back(what == io_interest::read ? e.readers : e.writers, node, &e.readers);
  if (const int err = arm(fd, e)) {
    unlink(*node.home, node);
    unlock(e.readers);
    if (err == EPERM) {  // a regular file or directory: always ready, as poll(2) says
      result = io_result::ready;
      return true;
    }
    throw_errno(err, "weft: epoll_ctl");
  }
  const std::uint32_t outcome = wait_claimed(p, e.readers, node, deadline_ns, wait_kind::io, &e);
  if (outcome == parker::timed_out) {
    // Leave no arming behind (see "Waiting"), unless another waiter needs it.
    list_guard hold(e.readers);
    if (empty(e.readers) && empty(e.writers)) remove_locked(fd, e);
    result = io_result::timed_out;
    return true;
  }
  // Claimed by wake_all's caller: stay until it is done waking us (see
  // "Waking from outside a runtime"). It is past the queue push already, so
  // this is the rest of one function call; yield if its thread was preempted.
  for (int spins = 0; !waker_done.load(std::memory_order_acquire); ++spins) {
    if (spins < 100) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  switch (node.status) {
    case status_canceled:
      result = io_result::canceled;
      return true;
    case status_retry:
      return false;
    default:
      result = io_result::ready;
      return true;
  }
}

// The atexit hook (any thread, once).
void poller::stop() noexcept {
  if (stopped_.exchange(true, std::memory_order_seq_cst)) return;  // a forked child
  const std::uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) != sizeof one) return;  // cannot happen; leave it running
  thread_.join();
  // Send every parked waiter to ppoll (see "Exit and fork").
  table().for_each([](fd_entry& e) {
    lock(e.readers);
    waiter_node* chain = claim_every(e, status_retry);
    unlock(e.readers);
    wake_all(chain);
  });
}

bool closing(fd_entry& e) noexcept {
  list_guard hold(e.readers);
  return e.close_pending;
}

// A plain thread's wait, and a fiber's once the poller stopped.
io_result wait_ppoll(fd_entry& e, int fd, io_interest what, std::int64_t deadline_ns) {
  pollfd pfd{};
  pfd.fd = fd;
  pfd.events = what == io_interest::read ? POLLIN : POLLOUT;
  for (;;) {
    if (closing(e)) return io_result::canceled;
    timespec rest{};
    timespec* limit = nullptr;
    if (deadline_ns != no_deadline) {
      const std::int64_t ns = std::max<std::int64_t>(0, deadline_ns - steady_now_ns());
      rest.tv_sec = static_cast<std::time_t>(ns / 1'000'000'000);
      rest.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      limit = &rest;
    }
    const int n = ::ppoll(&pfd, 1, limit, nullptr);
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
  if (e.in_epoll) {
    poller::existing()->remove_locked(fd, e);  // in_epoll implies the poller started
  } else {
    ++e.gen;
  }
  e.users = 0;
  e.close_pending = false;
}

}  // namespace

io_result wait_io(int fd, io_interest what, std::int64_t deadline_ns) {
  if (fd < 0) throw_errno(EBADF, "weft: wait on a descriptor");
  fd_entry& e = table().get(fd);
  const bool expired = deadline_ns != no_deadline && deadline_ns <= steady_now_ns();
  if (current_fiber() != nullptr && !expired) {
    io_result result;
    if (poller::instance().wait_parked(fd, e, what, deadline_ns, result)) return result;
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
    chain = claim_every(e, status_canceled);
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
  wake_all(chain);
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
