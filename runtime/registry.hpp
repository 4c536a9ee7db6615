// registry: every live fiber of a runtime, enumerable without stopping it,
// and the wait for "no fiber left" that runtime shutdown needs.
//
// Sharded intrusive doubly-linked lists, one shard per worker plus a few
// (at least 4, at least one per worker) for spawns from outside threads,
// each with its own spinlock. A fiber is linked
// into the shard of the thread that spawned it and unlinked (from that same
// shard) when it retires, so the common case takes an uncontended lock
// twice per fiber. Enumeration locks one shard at a time: it never stops
// the runtime, and sees each fiber that lived throughout the call.
//
// Drain: wait_until_empty() sets `draining_` and sleeps on an epoch futex;
// a retiring fiber that empties nothing still bumps the epoch when it reads
// `draining_` set, under its shard lock. Why no wake-up is lost: the waiter
// stores `draining_` before it locks each shard to look; a retirer that
// unlinks after the waiter looked at its shard acquires that shard's lock
// after the waiter released it, so it sees `draining_` and bumps the epoch
// the waiter sampled before looking.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "spinlock.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

struct fiber;

class fiber_registry {
 public:
  explicit fiber_registry(unsigned shards);

  /// Links `f` into `shard`. Any thread.
  void add(fiber& f, unsigned shard);
  /// Unlinks `f` from its shard. Any thread.
  void remove(fiber& f) noexcept;
  /// A snapshot of every linked fiber.
  [[nodiscard]] std::vector<fiber_info> snapshot() const;
  [[nodiscard]] unsigned shard_count() const noexcept { return shard_count_; }
  /// Blocks the calling plain thread until no fiber is linked and
  /// `nothing_pending(context)` holds (fibers not yet linked: see
  /// runtime_core). Re-checked whenever a fiber is removed.
  void wait_until_empty(bool (*nothing_pending)(const void* context), const void* context) noexcept;

 private:
  struct alignas(64) shard {
    mutable spinlock lock;
    fiber* head = nullptr;  // guarded by lock
  };
  [[nodiscard]] bool empty() const noexcept;

  std::unique_ptr<shard[]> shards_;
  const unsigned shard_count_;
  std::atomic<bool> draining_{false};
  std::atomic<std::uint32_t> drain_epoch_{0};
};

}  // namespace weft::detail
