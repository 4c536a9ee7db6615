// block_cache: per-thread recycling of fiber records.
//
// Every spawn allocates one block (fiber record + task) and every finished
// fiber frees one, often on another worker. glibc's per-thread cache keeps
// only 7 blocks per size, so a fork-join burst of 10 children already falls
// through to the arena and its locks (measured: malloc+free were 18% of a
// skynet run). This cache keeps up to `cached_blocks_per_class` blocks per
// 64-byte size class on each thread; a block freed on another thread simply joins that
// thread's cache. A cache that overflows moves its full list of the class to
// a shared depot, and a cache that runs dry takes one from there, so blocks
// freed on one thread reach the thread that allocates them (a thread pool's
// submitter) in batches, without malloc. Blocks above `max_cached_block` bytes or
// with alignment above the default new alignment bypass both.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft::detail {

/// Blocks a thread's cache keeps per size class, and the size of a batch in
/// the depot. A guess, to be tuned: deep enough for wide fork-join bursts,
/// small enough (64 KiB per class at most) that idle threads hoard little.
inline constexpr std::size_t cached_blocks_per_class = 64;

/// Blocks up to this size, with at most the default new alignment, come
/// from the cache, in size classes of `block_granule` bytes; others from
/// operator new, aligned.
inline constexpr std::size_t block_granule = 64;
inline constexpr std::size_t max_cached_block = 1024;
/// block_class() of a block that bypasses the cache.
inline constexpr std::uint32_t uncached_block = ~std::uint32_t{0};

/// The cache's size class for a block of `bytes` bytes aligned to `align`,
/// or uncached_block. constexpr and inline: a spawn's record size and
/// alignment are constants, and so then is its class (no arithmetic on the
/// spawn path, and a record keeps its class for the free).
constexpr std::uint32_t block_class(std::size_t bytes, std::size_t align) noexcept {
  if (bytes > max_cached_block || align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) return uncached_block;
  return static_cast<std::uint32_t>((bytes + block_granule - 1) / block_granule - 1);
}

// The four below read this thread's cache (thread-locals), so none may be
// inlined: a caller that switches fibers, such as fiber_entry's loop, which
// frees records between bodies, could otherwise reuse a thread-local's
// address computed before a switch after it, on another thread (design.md
// 12).

/// A block of class `c` (not uncached_block). Any thread.
[[gnu::noinline]] void* allocate_cached_block(std::uint32_t c);
/// Returns a block of class `c` from allocate_cached_block. Any thread.
[[gnu::noinline]] void free_cached_block(void* block, std::uint32_t c) noexcept;
/// A block that bypasses the cache. Any thread.
[[gnu::noinline]] void* allocate_uncached_block(std::size_t bytes, std::size_t align);
/// Returns a block from allocate_uncached_block with the same `align`. Any thread.
[[gnu::noinline]] void free_uncached_block(void* block, std::size_t align) noexcept;

/// A block of at least `bytes` bytes, aligned to `align`. Any thread.
inline void* allocate_block(std::size_t bytes, std::size_t align) {
  const std::uint32_t c = block_class(bytes, align);
  return c != uncached_block ? allocate_cached_block(c) : allocate_uncached_block(bytes, align);
}
/// Returns a block from allocate_block of class `c`, as block_class(bytes,
/// align) gave for it, and `align`. Any thread.
inline void free_block_of_class(void* block, std::uint32_t c, std::size_t align) noexcept {
  if (c != uncached_block) {
    free_cached_block(block, c);
  } else {
    free_uncached_block(block, align);
  }
}

}  // namespace weft::detail
