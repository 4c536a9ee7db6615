// weft::channel<T>: Go-style channels between fibers and threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/detail/channel_core.hpp"
#include "weft/detail/deadline.hpp"

namespace weft {

/// Result of the non-throwing channel operations.
enum class channel_status {
  ok,       ///< the value was sent / received
  closed,   ///< the channel is closed (and, for a receive, drained)
  empty,    ///< try_recv: nothing to receive now
  full,     ///< try_send: no room (or, unbuffered, no receiver waiting) now
  timeout,  ///< send_for / recv_for: the time ran out
};

/// Thrown by send() (and a select send case) on a closed channel.
class channel_closed : public std::runtime_error {
 public:
  channel_closed() : std::runtime_error("weft::channel: send on a closed channel") {}
};

template <class T>
class channel;

namespace detail {
/// Lets select reach a channel's core.
struct channel_access {
  template <class T>
  static channel_core* core(const channel<T>& ch) noexcept {
    return ch.core_;
  }
};
}  // namespace detail

/// A typed FIFO between fibers and threads, like Go's chan. Copies are
/// handles to the same channel. Capacity 0 is a rendezvous: send() waits for
/// a receiver and hands the value over directly. Values sent by one sender
/// arrive in order; each value is received exactly once, also when close()
/// races with senders and receivers; values buffered before close() are
/// still received. T must be nothrow move-constructible; move-only types work.
template <class T>
class channel {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "weft::channel<T> needs a nothrow move constructor");

 public:
  /// A new channel with room for `capacity` buffered values.
  explicit channel(std::size_t capacity = 0)
      : core_(detail::channel_create(capacity, &detail::value_ops_for<T>)) {}
  /// Another handle to the same channel.
  channel(const channel& other) noexcept : core_(other.core_) { detail::channel_retain(core_); }
  channel& operator=(const channel& other) noexcept {
    detail::channel_retain(other.core_);
    detail::channel_release(core_);
    core_ = other.core_;
    return *this;
  }
  ~channel() { detail::channel_release(core_); }

  /// Sends `value`, waiting for room (unbuffered: for a receiver). Throws
  /// channel_closed if the channel is closed before or while waiting.
  void send(T value) {
    if (detail::channel_send(core_, &value, detail::steady_time::max(), true) ==
        channel_status::closed) {
      throw channel_closed();
    }
  }
  /// Waits for a value; std::nullopt once the channel is closed and drained.
  std::optional<T> recv() {
    detail::value_slot<T> slot;
    if (detail::channel_recv(core_, slot.bytes, detail::steady_time::max(), true) !=
        channel_status::ok) {
      return std::nullopt;
    }
    return std::optional<T>(slot.take());
  }
  /// Sends without waiting: ok, full or closed. Moves from `value` only on ok.
  channel_status try_send(T&& value) {
    return detail::channel_send(core_, &value, detail::steady_time::min(), false);
  }
  /// Receives without waiting: ok, empty or closed.
  channel_status try_recv(T& out) { return recv_into(out, detail::steady_time::min(), false); }
  /// Sends, waiting up to `timeout`: ok, timeout or closed. Moves from
  /// `value` only on ok.
  template <class Rep, class Period>
  channel_status send_for(T&& value, const std::chrono::duration<Rep, Period>& timeout) {
    return detail::channel_send(core_, &value, detail::deadline_after(timeout), true);
  }
  /// Receives, waiting up to `timeout`: ok, timeout or closed.
  template <class Rep, class Period>
  channel_status recv_for(T& out, const std::chrono::duration<Rep, Period>& timeout) {
    return recv_into(out, detail::deadline_after(timeout), true);
  }
  /// Closes the channel: waiting senders get channel_closed, waiting
  /// receivers get std::nullopt (once the buffer is drained). True if this
  /// call closed it.
  bool close() noexcept { return detail::channel_close(core_); }
  [[nodiscard]] bool is_closed() const noexcept { return detail::channel_is_closed(core_); }
  /// Values buffered now.
  [[nodiscard]] std::size_t size() const noexcept { return detail::channel_size(core_); }
  [[nodiscard]] std::size_t capacity() const noexcept { return detail::channel_capacity(core_); }

  /// Input iterator over received values: `for (T v : ch)` receives until
  /// the channel is closed and drained.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&;

    iterator() = default;
    T& operator*() { return *current_; }
    iterator& operator++() {
      current_ = ch_->recv();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return !a.current_ && !b.current_;
    }

   private:
    friend class channel;
    explicit iterator(channel* ch) : ch_(ch), current_(ch->recv()) {}
    channel* ch_ = nullptr;
    std::optional<T> current_;
  };
  /// Receives the first value (waits); see iterator.
  iterator begin() { return iterator(this); }
  iterator end() noexcept { return iterator(); }

 private:
  friend struct detail::channel_access;

  channel_status recv_into(T& out, detail::steady_time deadline, bool may_wait) {
    detail::value_slot<T> slot;
    const channel_status s = detail::channel_recv(core_, slot.bytes, deadline, may_wait);
    if (s == channel_status::ok) out = slot.take();
    return s;
  }

  detail::channel_core* core_;
};

}  // namespace weft
