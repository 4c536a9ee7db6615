// fd_table: the poller's state for every descriptor number, process-wide.
// See poller.hpp for the protocol that uses it.
//
// Descriptor numbers are process-wide, so this table is too (one per
// process, never destroyed): whichever runtime's fibers wait on a number,
// and whichever thread closes it, meet at the same entry and its lock. Which
// epoll set a number is registered in is the entry's `home` (io_poller.hpp).
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "sync/waiting.hpp"

namespace weft::detail {

class io_poller;

/// The poller's state for one descriptor number. Lives forever (fd_table).
struct fd_entry {
  wait_list readers;  ///< its lock guards every field of the entry
  wait_list writers;  ///< guarded by readers' lock
  /// Bumped by every arming, DEL and reset; the high half of the epoll data.
  std::uint32_t gen = 0;
  /// Interest of the arming whose event the poller has not processed yet; 0 if none.
  std::uint32_t armed = 0;
  std::uint32_t users = 0;  ///< calls between acquire_fd and release_fd
  /// The epoll set the descriptor may be registered in (a runtime's
  /// io_poller); nullptr when it is in none. See poller.hpp, "Invariants".
  io_poller* home = nullptr;
  bool close_pending = false;  ///< close_fd ran while users > 0
};

/// Entries by descriptor number, in segments that double in size (64, 64,
/// 128, 256, ...) so memory follows the largest number used; never freed, so
/// an entry's address is stable. Any thread.
class fd_table {
 public:
  fd_table() = default;
  fd_table(const fd_table&) = delete;
  fd_table& operator=(const fd_table&) = delete;

  /// The entry of `fd` (>= 0), created if needed. Throws std::bad_alloc.
  fd_entry& get(int fd) {
    const slot at = slot_of(fd);
    // acquire: pairs with the publishing CAS below; the segment's entries
    // are constructed before its pointer is published.
    fd_entry* seg = segments_[at.segment].load(std::memory_order_acquire);
    if (seg == nullptr) {
      auto* fresh = new fd_entry[segment_size(at.segment)];
      // acq_rel: publishes `fresh` (release); on failure reads the winner's (acquire).
      if (segments_[at.segment].compare_exchange_strong(seg, fresh, std::memory_order_acq_rel)) {
        seg = fresh;
      } else {
        delete[] fresh;  // another thread published one first; `seg` holds it
      }
    }
    return seg[at.index];
  }

  /// The entry of `fd` if its segment exists, else nullptr.
  fd_entry* find(int fd) const noexcept {
    const slot at = slot_of(fd);
    fd_entry* seg = segments_[at.segment].load(std::memory_order_acquire);  // as in get()
    return seg ? seg + at.index : nullptr;
  }

  /// Calls f(entry) for every entry that exists. A segment published
  /// concurrently may be missed: callers look for entries that a thread
  /// which happened-before them touched (io_poller's teardown).
  template <class F>
  void for_each(F f) {
    for (int s = 0; s < segment_count; ++s) {
      fd_entry* seg = segments_[s].load(std::memory_order_acquire);  // as in get()
      if (seg == nullptr) continue;
      for (std::size_t i = 0; i < segment_size(s); ++i) f(seg[i]);
    }
  }

 private:
  static constexpr int first_bits = 6;  // segment 0 holds numbers [0, 64)
  // Segment s >= 1 holds [2^(s+5), 2^(s+6)); 26 segments cover every int >= 0.
  static constexpr int segment_count = 32 - first_bits;
  struct slot {
    int segment;
    std::size_t index;
  };
  static std::size_t segment_size(int s) noexcept {
    return std::size_t{1} << (s == 0 ? first_bits : s + first_bits - 1);
  }
  static slot slot_of(int fd) noexcept {
    const auto n = static_cast<std::uint32_t>(fd);
    if (n < (std::uint32_t{1} << first_bits)) return {0, n};
    const int s = std::bit_width(n) - first_bits;
    return {s, n - (std::uint32_t{1} << (s + first_bits - 1))};
  }

  std::atomic<fd_entry*> segments_[segment_count]{};
};

/// The process-wide table (created on first use, never destroyed).
inline fd_table& table() {
  static fd_table* const instance = new fd_table();  // never destroyed: the poller outlives exit
  return *instance;
}

/// How a claimer ended a waiter's wait (waiter_node::status): written under
/// the entry lock before the wake, read by the waiter after it.
enum io_wait_status : std::uint32_t {
  io_status_ready = 1,     ///< its home poller saw readiness
  io_status_canceled = 2,  ///< close_fd closed the handle
  io_status_retry = 3,     ///< its home poller went away: wait again
};

/// Claims every waiter of `list` (stale nodes are dropped), marks it with
/// `status` and appends it to a chain for wake_chain. With the entry lock held.
inline void claim_into(wait_list& list, io_wait_status status, waiter_node*& head,
                       waiter_node**& tail) noexcept {
  while (waiter_node* node = claim_first(list)) {
    node->status = status;
    append_claimed(head, tail, node);
  }
}

/// Claims every waiter of the entry, readers then writers. With its lock held.
inline waiter_node* claim_every(fd_entry& e, io_wait_status status) noexcept {
  waiter_node* head = nullptr;
  waiter_node** tail = &head;
  claim_into(e.readers, status, head, tail);
  claim_into(e.writers, status, head, tail);
  return head;
}

}  // namespace weft::detail
