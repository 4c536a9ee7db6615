// weft cancellation: asking a fiber to stop, shields, and timeouts over any
// block of code.
//
// A fiber is cancelled through its join_handle (join_handle::cancel()), by
// the task_group it belongs to when a sibling throws, or, for the waits of
// one block of code, by with_timeout. Cancellation is delivered at waits:
// every weft operation that would park the fiber (join, sleep, mutex,
// shared_mutex, condition_variable, semaphore, latch, barrier, wait_group,
// channel send/recv, select, future get/wait, task_group::wait, blocking(),
// weft::net reads, writes, accepts and connects) throws weft::cancelled
// instead of waiting, or stops waiting and throws. An operation that does
// not need to wait (an uncontended lock, a send into a channel with room)
// completes as usual. Computation is never interrupted: a fiber that
// computes asks cancellation_requested() or its stop token.
//
// Nothing is lost: a wait that throws weft::cancelled had no effect (a
// cancelled send delivered nothing, a cancelled recv took nothing, a
// cancelled lock or acquire holds nothing). Details per operation, and how
// the delivery works, are in docs/cancellation.md.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "weft/detail/call_result.hpp"

namespace weft {

/// Thrown by the waits of a cancelled fiber (and by join() of a fiber that a
/// cancellation ended). Not an error: a detached fiber ended by it is not
/// reported.
class cancelled : public std::exception {
 public:
  [[nodiscard]] const char* what() const noexcept override { return "weft::cancelled"; }
};

/// Thrown by with_timeout when the time ran out while its callable waited.
class timeout_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
/// Runs fn(arg) under a timeout scope ending at `deadline_ns` (steady clock
/// ns) on the calling fiber; turns the scope's own cancellation into
/// timeout_error. From a plain thread it runs the scope on a fiber of the
/// current (or default) runtime and waits for it.
void run_with_timeout(std::int64_t deadline_ns, void (*fn)(void*), void* arg);
/// The calling fiber's stop token; a token that never stops on a plain thread.
std::stop_token current_stop_token() noexcept;
/// Enters (true) or leaves (false) a cancellation shield on the calling fiber.
void shield_cancellation(bool enter) noexcept;
}  // namespace detail

namespace this_fiber {
/// The calling fiber's stop token: stopped once the fiber is cancelled
/// (join_handle::cancel(), or its task_group's). A token that never stops
/// on a plain thread. A with_timeout running out does not stop it: the
/// token says the fiber as a whole should stop.
std::stop_token get_stop_token() noexcept;
/// True if the calling fiber's next wait would throw weft::cancelled: the
/// fiber was cancelled or an enclosing with_timeout ran out, and no
/// cancellation_shield is alive. False on a plain thread.
bool cancellation_requested() noexcept;
}  // namespace this_fiber

/// RAII: while one is alive on a fiber, its waits are not interrupted (they
/// wait to the end, as if not cancelled), and cancellation_requested() is
/// false. A cancellation that arrives meanwhile is kept and delivered at the
/// first wait after the last shield ends. Use it for clean-up that must
/// finish (flushing a buffer, a goodbye message, releasing a lease). No
/// effect on a plain thread.
class cancellation_shield {
 public:
  cancellation_shield() noexcept { detail::shield_cancellation(true); }
  ~cancellation_shield() { detail::shield_cancellation(false); }
  cancellation_shield(const cancellation_shield&) = delete;
  cancellation_shield& operator=(const cancellation_shield&) = delete;
};

/// Runs f() in the calling fiber and returns its result. If the time runs
/// out first, f's current or next wait throws weft::cancelled inside f, and
/// with_timeout turns it into timeout_error once it reaches it. Computation
/// inside f is not interrupted (f may look at cancellation_requested()),
/// and if f returns normally after the time ran out, its result is
/// returned. Nests: an inner timeout that runs out throws timeout_error
/// from the inner with_timeout only; an outer timeout or a cancellation of
/// the fiber still wins (its weft::cancelled passes through). A zero or
/// negative duration runs f with the time already out. From a plain thread,
/// f runs on a fiber of the current (or default) runtime, which the thread
/// waits for.
template <class Rep, class Period, class F>
auto with_timeout(std::chrono::duration<Rep, Period> limit, F&& f) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  // Limits of 30 years and more never run out (and would overflow below).
  std::int64_t deadline_ns = std::numeric_limits<std::int64_t>::max();
  if (std::chrono::duration<double>(limit).count() < 1e9) {
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    deadline_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() +
                  std::max<std::int64_t>(
                      std::chrono::duration_cast<std::chrono::nanoseconds>(limit).count(), 0);
  }
  struct call {
    F& fn;
    detail::call_result<R> result;
  } c{f, {}};
  detail::run_with_timeout(
      deadline_ns, [](void* p) { static_cast<call*>(p)->result.run(static_cast<call*>(p)->fn); },
      &c);
  return c.result.take();
}

}  // namespace weft
