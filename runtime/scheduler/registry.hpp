// registry: every live fiber of a runtime, enumerable without stopping it,
// and the wait for "no fiber left" that runtime shutdown needs.
//
// One shard per worker: an intrusive doubly-linked list of the fibers that
// worker spawned or adopted. A fiber is linked when it is spawned (or, from
// outside, adopted) and unlinked when it ends.
//
// Owner without a lock. Linking and unlinking are on every spawn's path, and
// an uncontended lock there cost two atomic RMWs per fiber, a quarter of a
// spawn-and-join (skynet, one worker). So a shard's owner worker updates it
// without any: an asymmetric Dekker handshake against the rare reader.
//   owner:     owner_inside = true; (compiler barrier); if inspected: take
//              the lock instead (slow path); else update; owner_inside = false
//   inspector: lock; inspected = true; membarrier(); wait until
//              !owner_inside; read (and update); inspected = false; unlock
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) runs a full barrier on every
// CPU that runs a thread of this process, so the owner's store and load
// cannot both miss the inspector's: either the owner sees `inspected` and
// queues on the lock, or the inspector sees `owner_inside` and waits for
// the update to end. The inspector pays a system call; the owner pays
// plain stores. Inspectors are enumeration (runtime::fibers()) and the
// shutdown drain. Where membarrier is unavailable, and under
// ThreadSanitizer (which cannot see its ordering), everyone takes the lock.
//
// Others' fibers. A fiber that ends on a worker that does not own its shard
// (it was stolen, or parked and woken elsewhere) cannot unlink itself
// there: it is pushed on the shard's `ended` stack (one CAS), still linked
// and still holding its record's own reference. The owner unlinks them at
// its next update of the shard and before it sleeps; an inspector unlinks
// them before it reads. Such a fiber's record (and its callable) is freed
// then, not when it ended.
//
// Drain: wait_until_empty() sets `draining_` and sleeps on an epoch futex;
// whoever unlinks a fiber, or pushes one on an `ended` stack, while it reads
// `draining_` set bumps the epoch. No wake-up is lost: the waiter stores
// `draining_` before it inspects each shard, so an owner's update after the
// waiter's membarrier reads `draining_` set (and a pusher's seq_cst CAS and
// load pair with the waiter's seq_cst store and exchange).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "fiber/fiber.hpp"
#include "platform/spinlock.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

class fiber_registry {
 public:
  explicit fiber_registry(unsigned shards);

  // add() and remove() are inline: they run on every spawn and every end
  // (skynet, 1 worker: 11 instructions per fiber fewer than as calls).

  /// Links `f` into `shard`. Only on the thread of the worker that owns it.
  [[gnu::always_inline]] void add(fiber& f, unsigned shard_index) {
    shard& s = shards_[shard_index];
    f.registry_shard = shard_index;
    const bool locked = owner_enter(s);
    link(s, f);
    // seq_cst (a plain load on x86): as take_ended's.
    if (s.ended.load(std::memory_order_seq_cst) != nullptr) [[unlikely]] {
      reap_ended_and_leave(s, locked);
      return;
    }
    owner_leave(s, locked);
  }
  /// Unlinks `f`, which ended, on the worker `by`. True if it was unlinked
  /// now; false if it was queued for its shard's owner, which then drops
  /// the record's own reference (the caller must not).
  [[gnu::always_inline]] bool remove(fiber& f, unsigned by) noexcept {
    if (f.registry_shard != by) [[unlikely]] {
      remove_elsewhere(f);
      return false;
    }
    shard& s = shards_[by];
    const bool locked = owner_enter(s);
    unlink(s, f);
    // seq_cst (a plain load on x86): as take_ended's.
    if (s.ended.load(std::memory_order_seq_cst) != nullptr) [[unlikely]] {
      reap_ended_and_leave(s, locked);
      return true;
    }
    // relaxed: ordered by the handshake (or the lock) with the drain's inspection.
    const bool notify = draining_.load(std::memory_order_relaxed);
    owner_leave(s, locked);
    if (notify) [[unlikely]]
      bump_drain_epoch();
    return true;
  }
  /// Unlinks the fibers of shard `owner` that ended elsewhere (see above).
  /// Only on the thread of the worker that owns it.
  void unlink_ended(unsigned owner) noexcept;
  /// A snapshot of every linked fiber.
  [[nodiscard]] std::vector<fiber_info> snapshot() const;
  /// Every linked fiber, each with one more reference, which the caller
  /// drops with release_reference(): the records stay readable after the
  /// inspection (stack dumps read them long after).
  [[nodiscard]] std::vector<fiber*> retain_all() const;
  /// What fibers() reports about `f` (relaxed reads: a snapshot), but
  /// blocked_by, which needs the others.
  [[nodiscard]] static fiber_info describe(const fiber& f);
  /// Fills blocked_by of `infos`, which describe `records` (same order).
  static void resolve_blocked_by(const std::vector<const fiber*>& records,
                                 std::vector<fiber_info>& infos);
  [[nodiscard]] unsigned shard_count() const noexcept { return shard_count_; }
  /// Blocks the calling plain thread until no fiber is linked and
  /// `nothing_pending(context)` holds (fibers not yet linked: see
  /// runtime_core). Re-checked whenever a fiber is removed.
  void wait_until_empty(bool (*nothing_pending)(const void* context), const void* context) noexcept;

 private:
  struct alignas(64) shard {
    spinlock lock;  // inspectors; owners on the slow path
    std::atomic<bool> owner_inside{false};
    std::atomic<bool> inspected{false};
    fiber* head = nullptr;               // owner (fast path), or lock holder
    std::atomic<fiber*> ended{nullptr};  // fibers to unlink, by fiber::ended_next
  };
  /// Calls visit(fiber&) for every linked fiber, one shard inspected at a time.
  template <class Visit>
  void for_each_linked(Visit visit) const;
  /// Enters / leaves an owner's update; true if it took the lock. Inline:
  /// twice per fiber, and the fast path is three plain accesses.
  [[gnu::always_inline]] bool owner_enter(shard& s) const noexcept {
    if (asymmetric_) [[likely]] {
      // relaxed, with only a compiler barrier between: membarrier() in
      // inspect_begin orders them against the inspector (see the top).
      s.owner_inside.store(true, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_seq_cst);
      // acquire: reading an inspection's end (inspect_end's release) orders
      // what that inspector did before, such as retain_all()'s references,
      // before our update.
      if (!s.inspected.load(std::memory_order_acquire)) [[likely]]
        return false;
    }
    return owner_enter_locked(s);
  }
  [[gnu::always_inline]] static void owner_leave(shard& s, bool locked) noexcept {
    if (locked) {
      s.lock.unlock();
    } else {
      // release: pairs with inspect_begin's acquire load; the update is visible.
      s.owner_inside.store(false, std::memory_order_release);
    }
  }
  /// owner_enter's slow path: without membarrier, or during an inspection.
  bool owner_enter_locked(shard& s) const noexcept;
  /// Enters / leaves an inspection: the owner is kept out.
  void inspect_begin(shard& s) const noexcept;
  void inspect_end(shard& s) const noexcept;
  static void link(shard& s, fiber& f) noexcept {
    f.registry_prev = nullptr;
    f.registry_next = s.head;
    if (s.head) s.head->registry_prev = &f;
    s.head = &f;
  }
  static void unlink(shard& s, fiber& f) noexcept {
    if (f.registry_prev) {
      f.registry_prev->registry_next = f.registry_next;
    } else {
      s.head = f.registry_next;
    }
    if (f.registry_next) f.registry_next->registry_prev = f.registry_prev;
  }
  /// remove() of a fiber that ended on a worker not owning its shard: it
  /// goes on the shard's `ended` stack, with a reference for its owner.
  [[gnu::noinline]] void remove_elsewhere(fiber& f) noexcept;
  /// Unlinks the shard's ended fibers (owner or inspector inside) and
  /// returns them, chained by ended_next, for the caller to release.
  static fiber* take_ended(shard& s) noexcept;
  /// Inside an owner's update (owner_enter returned `locked`): unlinks the
  /// shard's ended fibers, leaves, releases them and wakes a drain. Out of
  /// line and cold, so that add() and remove() save no registers for it.
  [[gnu::cold, gnu::noinline]] void reap_ended_and_leave(shard& s, bool locked) noexcept;
  static void release_ended(fiber* list) noexcept;
  [[gnu::cold]] void bump_drain_epoch() noexcept;
  /// Inspects every shard (unlinking ended fibers): none linked?
  [[nodiscard]] bool empty() noexcept;

  std::unique_ptr<shard[]> shards_;
  const unsigned shard_count_;
  const bool asymmetric_;  ///< owners update without the lock (see the top)
  std::atomic<bool> draining_{false};
  std::atomic<std::uint32_t> drain_epoch_{0};
};

}  // namespace weft::detail
