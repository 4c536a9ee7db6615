// stack_pool: fiber stacks with guard regions, carved from large mappings and
// cached per worker.
//
// Layout of one stack (addresses grow upwards):
//
//   | guard (guard_bytes, no access) | headroom | requested size ... top |
//                                    ^ bottom                          ^ top: the first frame
//
// Every stack has `headroom` usable bytes beyond what its fiber asked for
// (the runtime's default stack size): a child joined before it started runs
// inline on its joiner's stack, and only when the room left there is at
// least the child's own stack size (inline_join.hpp), which the headroom
// makes the common case. Untouched, it costs address space, not memory.
//
// Stacks grow down, so an overflow runs into the guard and faults; the
// stack-overflow handler (stack_overflow.cpp) recognises the address.
//
// Memory maps: the kernel limits a process to vm.max_map_count mappings
// (65530 by default). One mmap plus one mprotect'ed guard per stack costs two
// mappings, so 33k parked fibers would exhaust it. Instead default-size
// stacks are carved from slabs of slab_stacks each, and guards are installed
// with madvise(MADV_GUARD_INSTALL) (Linux 6.13+), which does not split the
// mapping: a million stacks cost ~16k mappings. On older kernels we fall back
// to mprotect(PROT_NONE) guards (two mappings per stack). Stacks of other
// sizes get a mapping of their own and are unmapped when released.
//
// Reuse: a released stack keeps its touched pages; the next fiber on that
// worker runs on warm, already-faulted memory. Each worker keeps a small LIFO
// cache (stack_cache); overflow goes to the runtime-wide free list. Slabs are
// unmapped when the runtime is destroyed.
#pragma once

#include <cstddef>
#include <vector>

#include "platform/spinlock.hpp"

namespace weft::detail {

/// Bytes of no-access memory below every stack. Larger than one page so a
/// frame of a few KiB that steps over the first guard page still faults.
inline constexpr std::size_t guard_bytes = 16 * 1024;

/// One fiber stack.
struct fiber_stack {
  std::byte* bottom = nullptr;  ///< lowest usable byte; the guard lies just below
  std::size_t size = 0;         ///< usable bytes: the requested size plus the headroom
  bool from_slab = false;       ///< default size, owned by a slab (else its own mapping)

  [[nodiscard]] std::byte* top() const noexcept { return bottom + size; }
  [[nodiscard]] bool guard_contains(const void* address) const noexcept {
    const auto* p = static_cast<const std::byte*>(address);
    return bottom && p < bottom && p >= bottom - guard_bytes;
  }
};

/// Rounds a requested stack size up to whole pages.
std::size_t round_stack_size(std::size_t bytes) noexcept;

/// The runtime-wide source of stacks. Any thread.
class stack_pool {
 public:
  /// `default_size` is already rounded (round_stack_size).
  explicit stack_pool(std::size_t default_size);
  ~stack_pool();
  stack_pool(const stack_pool&) = delete;
  stack_pool& operator=(const stack_pool&) = delete;

  [[nodiscard]] std::size_t default_size() const noexcept { return default_size_; }
  /// Usable bytes every stack has beyond its requested size (see the top).
  [[nodiscard]] std::size_t headroom() const noexcept { return default_size_; }

  /// Moves up to `count` default-size stacks into `out` (mapping a new slab
  /// when the free list is empty). Throws std::bad_alloc if mmap fails.
  void take_default(std::vector<fiber_stack>& out, std::size_t count);
  /// Returns default-size stacks to the free list.
  void give_default(const fiber_stack* stacks, std::size_t count);

  /// A stack of another requested size, in a mapping of its own. Throws
  /// std::bad_alloc.
  [[nodiscard]] fiber_stack map_single(std::size_t size) const;
  /// Unmaps a stack from map_single.
  static void unmap_single(const fiber_stack& stack) noexcept;

 private:
  void map_slab();  // requires lock_ held

  const std::size_t default_size_;
  spinlock lock_;
  std::vector<fiber_stack> free_;  // guarded by lock_
  struct slab {
    void* base;
    std::size_t bytes;
  };
  std::vector<slab> slabs_;  // guarded by lock_
};

/// A worker's private LIFO of default-size stacks. Owner worker only.
class stack_cache {
 public:
  explicit stack_cache(stack_pool& pool) : pool_(pool) { hot_.reserve(capacity); }
  ~stack_cache();
  stack_cache(const stack_cache&) = delete;
  stack_cache& operator=(const stack_cache&) = delete;

  /// A stack of `size` usable bytes (0: the runtime's default).
  fiber_stack acquire(std::size_t size);
  /// Gives a stack from acquire() back.
  void release(const fiber_stack& stack) noexcept;

 private:
  // Guesses, to be tuned with data: enough to cover a burst of short fibers,
  // small enough that idle workers do not hoard much memory.
  static constexpr std::size_t capacity = 64;
  static constexpr std::size_t refill = 16;

  stack_pool& pool_;
  std::vector<fiber_stack> hot_;
};

}  // namespace weft::detail
