// weft::blocking: run a blocking call off the workers.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "weft/detail/call_result.hpp"

namespace weft {

namespace detail {
/// Runs run(call) on a thread of the blocking pool and parks the calling
/// fiber until it returned; `call` is the caller's again on return. If the
/// wait throws (weft::cancelled), the pool keeps `call` and, once run(call)
/// has returned, calls dispose(call). run must not throw (the template
/// catches).
void run_blocking(void (*run)(void*), void (*dispose)(void*), void* call);
/// True on a fiber (then run_blocking parks it); false on a plain thread.
bool on_fiber() noexcept;
}  // namespace detail

/// The most threads the blocking pool grows to; further calls queue.
inline constexpr unsigned blocking_pool_max_threads = 64;

/// Calls f(args...) where blocking is harmless and returns its value (or
/// rethrows its exception). From a fiber, the call runs on a separate,
/// bounded, growable pool of plain threads (up to blocking_pool_max_threads,
/// started on demand, idle ones exit after a while) and the fiber parks
/// meanwhile, so its worker keeps running other fibers. From a plain thread
/// it simply calls f. Use it for getaddrinfo, file I/O, and legacy APIs that
/// block the thread; not for CPU work (use a fiber) nor for anything that
/// waits on weft primitives (they already park).
///
/// From a fiber, f and args are decay-copied (moved where they are rvalues),
/// as std::thread does, because the call may outlive the caller's frame: the
/// wait is a cancellation point. A cancelled fiber stops waiting and throws
/// weft::cancelled at once; the call itself cannot be interrupted and runs
/// to its end on its pool thread, where its result (or exception) and the
/// copies are then destroyed. So a call that may be cancelled must not
/// refer to the caller's stack (capture by value, not `[&]`).
template <class F, class... A>
std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...> blocking(F&& fn, A&&... args) {
  using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>;
  if (!detail::on_fiber()) return std::invoke(std::forward<F>(fn), std::forward<A>(args)...);
  struct call {
    std::decay_t<F> fn;
    std::tuple<std::decay_t<A>...> args;
    detail::call_result<R> result;
    std::exception_ptr error;
  };
  auto* c = new call{std::forward<F>(fn), {std::forward<A>(args)...}, {}, {}};
  detail::run_blocking(
      [](void* p) {
        auto& self = *static_cast<call*>(p);
        try {
          self.result.run(
              [&self]() -> R { return std::apply(std::move(self.fn), std::move(self.args)); });
        } catch (...) {
          self.error = std::current_exception();
        }
      },
      [](void* p) { delete static_cast<call*>(p); }, c);
  const std::unique_ptr<call> owner(c);
  if (c->error) std::rethrow_exception(c->error);
  return c->result.take();
}

}  // namespace weft
