// Internal: the untyped channel core that weft::channel<T> and weft::select
// forward to (runtime/sync/channel.cpp). Not part of the API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "weft/detail/deadline.hpp"

namespace weft {
enum class channel_status;
}  // namespace weft

namespace weft::detail {

/// How the core moves and destroys values of the channel's element type.
struct value_ops {
  std::size_t size;
  std::size_t align;
  /// Move-constructs *src into uninitialized `dst`.
  void (*move_into)(void* dst, void* src) noexcept;
  /// Destroys the value at `p`.
  void (*destroy)(void* p) noexcept;
};

template <class T>
inline constexpr value_ops value_ops_for{
    sizeof(T), alignof(T),
    [](void* dst, void* src) noexcept { ::new (dst) T(std::move(*static_cast<T*>(src))); },
    [](void* p) noexcept { static_cast<T*>(p)->~T(); }};

/// Opaque: one channel (refcounted; copies of channel<T> share it).
class channel_core;

channel_core* channel_create(std::size_t capacity, const value_ops* ops);
void channel_retain(channel_core* c) noexcept;
void channel_release(channel_core* c) noexcept;

/// Sends *value (moved from only on ok). `may_wait` false: never waits.
channel_status channel_send(channel_core* c, void* value, steady_time deadline, bool may_wait);
/// Receives into uninitialized `storage` (constructed only on ok).
channel_status channel_recv(channel_core* c, void* storage, steady_time deadline, bool may_wait);
bool channel_close(channel_core* c) noexcept;
bool channel_is_closed(const channel_core* c) noexcept;
std::size_t channel_size(const channel_core* c) noexcept;
std::size_t channel_capacity(const channel_core* c) noexcept;

/// One channel case of a select: send *value, or receive into storage.
struct select_case {
  channel_core* channel;
  void* value;
  bool is_send;
};

/// What select_cases did: the case performed (or `none` when no case was
/// ready and the default or the timeout applied), and whether its channel
/// was closed.
struct select_outcome {
  static constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::size_t index;
  bool closed;
};

/// Performs exactly one ready case, chosen uniformly at random among the
/// ready ones; else returns `none` at once if `has_default`; else waits
/// until a case can proceed or `deadline` passes (then `none`).
select_outcome select_cases(select_case* cases, std::size_t count, steady_time deadline,
                            bool has_default);

/// Uninitialized room for one T (a receive target).
template <class T>
struct value_slot {
  alignas(T) unsigned char bytes[sizeof(T)];
  T* get() noexcept { return std::launder(reinterpret_cast<T*>(bytes)); }
  /// Moves the received value out and destroys the slot's copy.
  T take() noexcept {
    T* p = get();
    T out(std::move(*p));
    p->~T();
    return out;
  }
};

}  // namespace weft::detail
