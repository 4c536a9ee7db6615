// weft::join_handle<T>: owning handle to a spawned fiber's outcome.
#pragma once

#include <stdexcept>
#include <utility>

#include "weft/detail/task.hpp"
#include "weft/fiber_id.hpp"

namespace weft {
class runtime;
}  // namespace weft

namespace weft {

namespace detail {
/// Waits until the fiber has finished: parks a fiber, blocks a plain thread.
void join_fiber(fiber* f);
/// True once the fiber has finished (its outcome is stored). Any thread.
bool fiber_done(const fiber* f) noexcept;
/// The fiber's id. Any thread.
std::uint64_t fiber_id_of(const fiber* f) noexcept;
/// Drops the handle's reference after a join.
void release_joined(fiber* f) noexcept;
/// Asks the fiber to stop (cancellation.hpp in the runtime). Any thread.
void cancel(fiber* f) noexcept;
/// Drops the handle's reference without a join. If the fiber ended, or later
/// ends, with an exception, that exception is reported and the process
/// terminates.
void release_detached(fiber* f) noexcept;
}  // namespace detail

/// Move-only handle to a spawned fiber, like std::thread: join() returns the
/// fiber's value (or rethrows its exception); a handle destroyed while still
/// joinable detaches the fiber, which keeps running.
template <class T>
class join_handle {
 public:
  /// An empty handle: not joinable.
  join_handle() noexcept = default;
  /// Takes over the fiber; `other` becomes empty.
  join_handle(join_handle&& other) noexcept
      : fiber_(std::exchange(other.fiber_, nullptr)), task_(std::exchange(other.task_, nullptr)) {}
  /// Detaches the current fiber (if any), then takes over other's.
  join_handle& operator=(join_handle&& other) noexcept {
    if (this != &other) {
      reset_detached();
      fiber_ = std::exchange(other.fiber_, nullptr);
      task_ = std::exchange(other.task_, nullptr);
    }
    return *this;
  }
  join_handle(const join_handle&) = delete;
  join_handle& operator=(const join_handle&) = delete;
  /// Detaches the fiber if still joinable.
  ~join_handle() { reset_detached(); }

  /// True while the handle refers to a fiber that was neither joined nor detached.
  [[nodiscard]] bool joinable() const noexcept { return fiber_ != nullptr; }
  /// True once the fiber has finished (then join() does not wait). False for
  /// an empty handle.
  [[nodiscard]] bool done() const noexcept { return fiber_ && detail::fiber_done(fiber_); }
  /// The fiber's id; fiber_id{} for an empty handle.
  [[nodiscard]] fiber_id id() const noexcept {
    return fiber_ ? fiber_id(detail::fiber_id_of(fiber_)) : fiber_id{};
  }

  /// Waits for the fiber (parks a fiber, blocks a plain thread), then returns
  /// its value or rethrows its exception (weft::cancelled if a cancellation
  /// ended it). Afterwards the handle is empty. Throws std::logic_error if
  /// !joinable(). A cancellation point: if the calling fiber is cancelled
  /// while it waits, join() throws weft::cancelled and the handle stays
  /// joinable (the fiber runs on; join again, or let the handle detach it).
  T join() {
    wait();
    struct release_on_exit {
      detail::fiber* f;
      ~release_on_exit() { detail::release_joined(f); }
    } release{std::exchange(fiber_, nullptr)};
    return std::exchange(task_, nullptr)->take();
  }

  /// Waits until the fiber has finished, without taking its outcome (a later
  /// join() returns it at once). Throws std::logic_error if !joinable(); a
  /// cancellation point, as join().
  void wait() const {
    if (!fiber_) throw std::logic_error("weft::join_handle::wait: handle is not joinable");
    detail::join_fiber(fiber_);
  }

  /// Asks the fiber to stop and returns at once: its stop token is stopped,
  /// and its current or next weft wait throws weft::cancelled (none is
  /// interrupted while a cancellation_shield is alive on it). A fiber
  /// cancelled before it started never runs. join() then returns the value
  /// if the fiber finished anyway, or rethrows what ended it. No effect on a
  /// finished fiber or a second time. Any thread. Throws std::logic_error if
  /// !joinable().
  void cancel() const {
    if (!fiber_) throw std::logic_error("weft::join_handle::cancel: handle is not joinable");
    detail::cancel(fiber_);
  }

  /// Lets the fiber run on without a handle. An exception escaping it is then
  /// reported on stderr and terminates the process. Throws std::logic_error if
  /// !joinable().
  void detach() {
    if (!fiber_) throw std::logic_error("weft::join_handle::detach: handle is not joinable");
    reset_detached();
  }

 private:
  friend class runtime;

  join_handle(detail::fiber* f, detail::task_result<T>* t) noexcept : fiber_(f), task_(t) {}

  void reset_detached() noexcept {
    if (fiber_) {
      detail::release_detached(std::exchange(fiber_, nullptr));
      task_ = nullptr;
    }
  }

  detail::fiber* fiber_ = nullptr;
  detail::task_result<T>* task_ = nullptr;
};

}  // namespace weft
