// weft::blocking: run a blocking call off the workers.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft {

namespace detail {
/// Runs fn(arg) on a thread of the blocking pool and parks the calling
/// fiber until it returned. fn must not throw (the template catches).
void run_blocking(void (*fn)(void*), void* arg);
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
template <class F, class... A>
std::invoke_result_t<F, A...> blocking(F&& fn, A&&... args) {
  using R = std::invoke_result_t<F, A...>;
  if (!detail::on_fiber()) return std::invoke(std::forward<F>(fn), std::forward<A>(args)...);
  struct call {
    F& fn;
    std::tuple<A&&...> args;
    std::conditional_t<
        std::is_void_v<R>, bool,
        std::optional<std::conditional_t<std::is_reference_v<R>,
                                         std::reference_wrapper<std::remove_reference_t<R>>, R>>>
        result{};
    std::exception_ptr error;
  } c{fn, std::forward_as_tuple(std::forward<A>(args)...)};
  detail::run_blocking(
      [](void* p) {
        auto& self = *static_cast<call*>(p);
        try {
          if constexpr (std::is_void_v<R>) {
            std::apply(self.fn, std::move(self.args));
          } else {
            self.result.emplace(std::apply(self.fn, std::move(self.args)));
          }
        } catch (...) {
          self.error = std::current_exception();
        }
      },
      &c);
  if (c.error) std::rethrow_exception(c.error);
  if constexpr (std::is_reference_v<R>) {
    return static_cast<R>(c.result->get());
  } else if constexpr (!std::is_void_v<R>) {
    return std::move(*c.result);
  }
}

}  // namespace weft
