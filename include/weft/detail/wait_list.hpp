// Internal: the wait list every synchronization object embeds. Its layout is
// here so objects can hold it by value; its operations live in the library
// (runtime/sync/waiting.hpp). Not part of the API.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::detail {

/// Opaque: one waiting operation's entry in one wait list (runtime/sync/waiting.hpp).
struct waiter_node;

/// A FIFO of waiting fibers and threads, guarded by its own spinlock (which
/// also guards the state of the object that embeds it).
class wait_list {
 public:
  wait_list() noexcept = default;
  wait_list(const wait_list&) = delete;
  wait_list& operator=(const wait_list&) = delete;

  std::atomic<std::uint32_t> lock_word{0};  ///< 0 free, 1 held
  waiter_node* head = nullptr;              ///< guarded by lock_word
  waiter_node* tail = nullptr;              ///< guarded by lock_word
  std::uint32_t size = 0;                   ///< nodes linked; guarded by lock_word
};

}  // namespace weft::detail
