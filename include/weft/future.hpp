// weft::future<T>: the std::future interface, fiber-aware.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/detail/deadline.hpp"
#include "weft/detail/wait_list.hpp"

namespace weft {

namespace detail {

/// The untyped part of a future's shared state; waiting and publishing are
/// compiled (runtime/sync/future.cpp). Two references: the future's and the
/// producer's.
class future_core {
 public:
  future_core() = default;
  future_core(const future_core&) = delete;
  future_core& operator=(const future_core&) = delete;
  virtual ~future_core() = default;

  std::atomic<int> refs{2};
  std::atomic<bool> ready{false};  ///< set (release) once the outcome is stored
  std::exception_ptr error;
  wait_list waiters;
  /// Run once by publish() after waking the waiters (std::future forwarding).
  void (*on_ready)(future_core*) = nullptr;  // guarded by waiters' lock
};

/// Waits until `core` is ready or `deadline`; true if ready. Parks a fiber,
/// blocks a thread.
bool future_wait(future_core& core, steady_time deadline);
/// Marks `core` ready (its outcome stored before), wakes every waiter, runs
/// on_ready. Producer side; once.
void future_publish(future_core& core) noexcept;
/// Installs `hook` to run when `core` becomes ready; false (nothing
/// installed) if it already is.
bool future_set_hook(future_core& core, void (*hook)(future_core*)) noexcept;
/// Drops one reference; deletes the state with the last.
void future_release(future_core* core) noexcept;

/// The typed state: the value (if any) next to the untyped part.
template <class T>
class future_state final : public future_core {
 public:
  /// Producer: stores the outcome of `fn(args...)`.
  template <class F, class... A>
  void run(F& fn, A&... args) noexcept {
    try {
      if constexpr (std::is_void_v<T>) {
        std::invoke(fn, args...);
      } else {
        value.emplace(std::invoke(fn, args...));
      }
    } catch (...) {
      error = std::current_exception();
    }
  }
  /// Consumer: the value, or rethrows.
  T take() {
    if (error) std::rethrow_exception(std::exchange(error, nullptr));  // see task.hpp
    if constexpr (!std::is_void_v<T>) return std::move(*value);
  }
  /// Forwards the outcome into a std::promise (conversion to std::future).
  void forward(std::promise<T>& p) {
    if (error) {
      p.set_exception(error);
    } else if constexpr (std::is_void_v<T>) {
      p.set_value();
    } else {
      p.set_value(std::move(*value));
    }
  }

  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};
  std::promise<T>* forward_to = nullptr;
};

}  // namespace detail

/// Move-only result of thread_pool::submit: the std::future interface, but
/// get() and wait() park a fiber (a plain thread blocks), so a task may wait
/// for another task's future without tying up a worker.
template <class T>
class future {
 public:
  /// An invalid future.
  future() noexcept = default;
  future(future&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  future& operator=(future&& other) noexcept {
    if (this != &other) {
      reset();
      state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
  }
  future(const future&) = delete;
  future& operator=(const future&) = delete;
  ~future() { reset(); }

  /// True until get() or the conversion to std::future consumed it.
  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

  /// Waits for the outcome; returns the value or rethrows the exception.
  /// Afterwards valid() is false. Throws std::future_error(no_state) if !valid().
  T get() {
    check();
    detail::future_wait(*state_, detail::steady_time::max());
    struct release_on_exit {
      future* self;
      ~release_on_exit() { self->reset(); }
    } release{this};
    return state_->take();
  }
  /// Waits for the outcome without consuming it.
  void wait() const {
    check();
    detail::future_wait(*state_, detail::steady_time::max());
  }
  /// ready, or timeout (never deferred).
  template <class Rep, class Period>
  std::future_status wait_for(const std::chrono::duration<Rep, Period>& timeout) const {
    check();
    return detail::future_wait(*state_, detail::deadline_after(timeout))
               ? std::future_status::ready
               : std::future_status::timeout;
  }
  template <class Clock, class Duration>
  std::future_status wait_until(const std::chrono::time_point<Clock, Duration>& deadline) const {
    check();
    return detail::future_wait(*state_, detail::to_steady(deadline)) ? std::future_status::ready
                                                                     : std::future_status::timeout;
  }

  /// Becomes a std::future that is ready when this one is (so code that
  /// stores std::futures compiles unchanged). Note that std::future::get()
  /// blocks the calling thread even inside a fiber; keep weft::future there.
  operator std::future<T>() && {  // NOLINT(google-explicit-constructor): drop-in by design
    check();
    auto* promise = new std::promise<T>();
    std::future<T> out = promise->get_future();
    state_->forward_to = promise;
    if (!detail::future_set_hook(*state_, &forward_hook)) {  // already ready
      state_->forward(*promise);
      delete promise;
    }
    reset();
    return out;
  }

 private:
  friend class thread_pool;
  explicit future(detail::future_state<T>* state) noexcept : state_(state) {}

  static void forward_hook(detail::future_core* core) {
    auto* st = static_cast<detail::future_state<T>*>(core);
    st->forward(*st->forward_to);
    delete st->forward_to;
  }
  void check() const {
    if (!state_) throw std::future_error(std::future_errc::no_state);
  }
  void reset() noexcept {
    if (state_) detail::future_release(std::exchange(state_, nullptr));
  }

  detail::future_state<T>* state_ = nullptr;
};

}  // namespace weft
