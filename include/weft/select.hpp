// weft::select: wait on several channel operations, perform exactly one.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "weft/channel.hpp"
#include "weft/detail/channel_core.hpp"
#include "weft/detail/deadline.hpp"

namespace weft {

/// A receive case: ready when `channel` has a value or is closed; the
/// handler gets the value, or std::nullopt for a closed, drained channel.
template <class T, class F>
struct recv_case {
  channel<T>* ch;
  F handler;
};
/// A send case: ready when `channel` can take `value` now. On a closed
/// channel select throws channel_closed.
template <class T, class F>
struct send_case {
  channel<T>* ch;
  T value;
  F handler;
};
/// Ready once `timeout` has passed since select was called.
template <class F>
struct timeout_case {
  std::chrono::steady_clock::duration timeout;
  F handler;
};
/// Makes select non-blocking: taken when no other case is ready.
template <class F>
struct default_case {
  F handler;
};

/// Case builders for select(); `handler` is called after the operation.
template <class T, class F>
recv_case<T, std::decay_t<F>> on_recv(channel<T>& ch, F&& handler) {
  return {&ch, std::forward<F>(handler)};
}
template <class T, class U, class F>
send_case<T, std::decay_t<F>> on_send(channel<T>& ch, U&& value, F&& handler) {
  return {&ch, T(std::forward<U>(value)), std::forward<F>(handler)};
}
template <class Rep, class Period, class F>
timeout_case<std::decay_t<F>> on_timeout(const std::chrono::duration<Rep, Period>& timeout,
                                         F&& handler) {
  return {std::chrono::ceil<std::chrono::steady_clock::duration>(timeout),
          std::forward<F>(handler)};
}
template <class F>
default_case<std::decay_t<F>> on_default(F&& handler) {
  return {std::forward<F>(handler)};
}

namespace detail {

struct no_slot {};

template <class C>
struct case_info;
template <class T, class F>
struct case_info<recv_case<T, F>> {
  static constexpr bool channel_case = true, is_send = false, is_timeout = false,
                        is_default = false;
  using slot = value_slot<T>;
};
template <class T, class F>
struct case_info<send_case<T, F>> {
  static constexpr bool channel_case = true, is_send = true, is_timeout = false, is_default = false;
  using slot = no_slot;
};
template <class F>
struct case_info<timeout_case<F>> {
  static constexpr bool channel_case = false, is_send = false, is_timeout = true,
                        is_default = false;
  using slot = no_slot;
};
template <class F>
struct case_info<default_case<F>> {
  static constexpr bool channel_case = false, is_send = false, is_timeout = false,
                        is_default = true;
  using slot = no_slot;
};

template <class C>
using info_of = case_info<std::remove_cvref_t<C>>;

// Runs the handler of case `c` after select performed it.
template <class C, class Slot>
void finish_case(C& c, Slot& slot, bool closed) {
  using info = info_of<C>;
  if constexpr (info::channel_case && !info::is_send) {
    using V = decltype(slot.take());
    c.handler(closed ? std::optional<V>() : std::optional<V>(slot.take()));
  } else if constexpr (info::channel_case) {
    if (closed) throw channel_closed();
    c.handler();
  } else {
    c.handler();
  }
}

template <class... Case, std::size_t... I>
std::size_t select_impl(std::index_sequence<I...>, Case&... cases) {
  constexpr std::size_t n = sizeof...(Case);
  constexpr std::size_t channel_cases = (std::size_t{info_of<Case>::channel_case} + ... + 0);
  static_assert((std::size_t{info_of<Case>::is_default} + ... + 0) <= 1,
                "weft::select: at most one on_default case");
  std::tuple<typename info_of<Case>::slot...> slots;
  std::array<select_case, channel_cases == 0 ? 1 : channel_cases> raw{};
  std::array<std::size_t, channel_cases == 0 ? 1 : channel_cases> position{};
  std::size_t k = 0;
  std::size_t timeout_index = n, default_index = n;
  auto deadline = steady_time::max();
  const auto now = std::chrono::steady_clock::now();
  (
      [&] {
        using info = info_of<Case>;
        if constexpr (info::channel_case) {
          if constexpr (info::is_send) {
            raw[k] = {channel_access::core(*cases.ch), &cases.value, true};
          } else {
            raw[k] = {channel_access::core(*cases.ch), std::get<I>(slots).bytes, false};
          }
          position[k++] = I;
        } else if constexpr (info::is_timeout) {
          if (now + cases.timeout < deadline) {
            deadline = now + cases.timeout;
            timeout_index = I;
          }
        } else {
          default_index = I;
        }
      }(),
      ...);
  const select_outcome out = select_cases(raw.data(), channel_cases, deadline, default_index != n);
  const std::size_t chosen = out.index != select_outcome::none ? position[out.index]
                             : default_index != n              ? default_index
                                                               : timeout_index;
  ((I == chosen ? finish_case(cases, std::get<I>(slots), out.closed) : void()), ...);
  return chosen;
}

}  // namespace detail

/// Waits until one of the cases can proceed, performs exactly that one,
/// calls its handler and returns its 0-based position. Among several ready
/// cases one is chosen uniformly at random. Build cases with on_recv,
/// on_send, on_timeout and on_default. A closed channel is always ready to
/// receive (its handler gets std::nullopt); a send case on a closed channel
/// throws channel_closed. With no channel case and no timeout, waits forever.
template <class... Case>
std::size_t select(Case&&... cases) {
  return detail::select_impl(std::index_sequence_for<Case...>{}, cases...);
}

}  // namespace weft
