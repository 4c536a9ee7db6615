// Internal: the type-erased body of a fiber and the few compiled entry points
// the public templates forward to. Not part of the API; may change at any time.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft {
struct spawn_options;
}  // namespace weft

namespace weft::detail {

/// Opaque: one runtime's scheduler state (runtime/scheduler/runtime_core.hpp).
class runtime_core;
/// Opaque: the scheduler's record of one fiber (runtime/fiber/fiber.hpp).
struct fiber;

/// The calling fiber's stop token (runtime/fiber/cancellation.cpp).
std::stop_token current_stop_token() noexcept;

/// Whether F, called with decay-copied A..., takes the fiber's stop token
/// first (as std::jthread: that form wins when both fit).
template <class F, class... A>
inline constexpr bool takes_stop_token_v =
    std::is_invocable_v<std::decay_t<F>, std::stop_token, std::decay_t<A>...>;

/// What a fiber runs: the user's callable and, after it ran, its outcome.
/// Lives in the same allocation as the fiber record; the runtime calls
/// `run()` once on the fiber's stack and `destroy()` when the last reference
/// (the join handle or the fiber itself) goes away.
class task_base {
 public:
  task_base() = default;
  task_base(const task_base&) = delete;
  task_base& operator=(const task_base&) = delete;

  /// Invokes the callable; stores its value or the exception it threw.
  virtual void run() noexcept = 0;
  /// Runs the destructor (the memory belongs to the fiber record).
  virtual void destroy() noexcept = 0;

  /// Set by run() when the callable threw.
  std::exception_ptr error;

 protected:
  ~task_base() = default;
};

/// Storage for a fiber's outcome of type R (values and references).
template <class R>
class task_result : public task_base {
 public:
  /// Moves the value out, or rethrows the stored exception. Called once.
  R take() {
    // Moved out: the exception object is then released by this thread, not
    // by whichever thread frees the task last (ThreadSanitizer cannot see
    // the C++ runtime's atomic reference count on exception objects).
    if (error) std::rethrow_exception(std::exchange(error, nullptr));
    if constexpr (std::is_reference_v<R>) {
      return static_cast<R>(value_->get());
    } else {
      return std::move(*value_);
    }
  }

 protected:
  ~task_result() = default;
  using stored = std::conditional_t<std::is_reference_v<R>,
                                    std::reference_wrapper<std::remove_reference_t<R>>, R>;
  std::optional<stored> value_;
};

/// A fiber whose callable returns nothing.
template <>
class task_result<void> : public task_base {
 public:
  /// Rethrows the stored exception, if any. Called once.
  void take() {
    // Moved out: the exception object is then released by this thread, not
    // by whichever thread frees the task last (ThreadSanitizer cannot see
    // the C++ runtime's atomic reference count on exception objects).
    if (error) std::rethrow_exception(std::exchange(error, nullptr));
  }

 protected:
  ~task_result() = default;
};

/// The callable F with its decay-copied arguments, returning R.
template <class R, class F, class... Args>
class task final : public task_result<R> {
 public:
  template <class G, class... B>
  explicit task(G&& fn, B&&... args) : fn_(std::forward<G>(fn)), args_(std::forward<B>(args)...) {}

  void run() noexcept override {
    try {
      if constexpr (std::is_void_v<R>) {
        call();
      } else {
        this->value_.emplace(call());
      }
    } catch (...) {
      this->error = std::current_exception();
    }
  }

  void destroy() noexcept override { this->~task(); }

 private:
  R call() {
    if constexpr (takes_stop_token_v<F, Args...>) {
      return std::apply(
          [this](auto&&... args) -> R {
            return std::invoke(std::move(fn_), current_stop_token(),
                               std::forward<decltype(args)>(args)...);
          },
          std::move(args_));
    } else {
      return std::apply(std::move(fn_), std::move(args_));
    }
  }

  ~task() = default;  // only through destroy(): the memory belongs to the fiber record
  F fn_;
  std::tuple<Args...> args_;
};

/// The result type of spawning F with arguments A (decay-copied, as
/// std::thread), with the fiber's stop token first where F takes it.
/// (Without a `type` when F cannot be called so: spawn() then drops out of
/// overload resolution.)
template <class F, class... A>
struct spawn_result : std::invoke_result<std::decay_t<F>, std::decay_t<A>...> {};
template <class F, class... A>
requires takes_stop_token_v<F, A...>
struct spawn_result<F, A...>
    : std::invoke_result<std::decay_t<F>, std::stop_token, std::decay_t<A>...> {
};
template <class F, class... A>
using spawn_result_t = typename spawn_result<F, A...>::type;

/// A fiber record with room for a task of `task_size` bytes. The caller
/// constructs the task in `task_storage`, then calls start_fiber (or, if the
/// construction threw, discard_fiber). Any thread.
struct fiber_allocation {
  fiber* handle;
  void* task_storage;
};
fiber_allocation allocate_fiber(runtime_core& core, const spawn_options& opts,
                                std::size_t task_size, std::size_t task_align);
/// As above, for a fiber without options (the default stack, no name): the
/// common spawn, which has nothing to check.
fiber_allocation allocate_fiber(runtime_core& core, std::size_t task_size, std::size_t task_align);
/// Whether a new fiber gets a join handle.
enum class spawn_kind : bool { joinable, detached };
/// Makes the fiber runnable; from now on the runtime owns one reference and,
/// for `joinable`, the join handle the other. A `detached` fiber starts as
/// if its handle had been detached already. Any thread.
void start_fiber(fiber* f, task_base* body, spawn_kind kind);
/// Frees a fiber whose task was never constructed. Any thread.
void discard_fiber(fiber* f) noexcept;

/// Builds the task for F(A...) and starts it as a new fiber on `core`.
/// For spawn_kind::detached the returned pointers must not be used.
template <class F, class... A>
std::pair<fiber*, task_result<spawn_result_t<F, A...>>*> spawn_task(runtime_core& core,
                                                                    const spawn_options* opts,
                                                                    spawn_kind kind, F&& fn,
                                                                    A&&... args) {
  using R = spawn_result_t<F, A...>;
  using body_type = task<R, std::decay_t<F>, std::decay_t<A>...>;
  const fiber_allocation block =
      opts ? allocate_fiber(core, *opts, sizeof(body_type), alignof(body_type))
           : allocate_fiber(core, sizeof(body_type), alignof(body_type));
  body_type* body = nullptr;
  try {
    body = ::new (block.task_storage) body_type(std::forward<F>(fn), std::forward<A>(args)...);
  } catch (...) {
    discard_fiber(block.handle);
    throw;
  }
  start_fiber(block.handle, body, kind);
  return {block.handle, body};
}

}  // namespace weft::detail
