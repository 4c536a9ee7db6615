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
// submitter) in batches, without malloc. Blocks above `max_cached` bytes or
// with alignment above the default new alignment bypass both.
#pragma once

#include <cstddef>

namespace weft::detail {

/// Blocks a thread's cache keeps per size class, and the size of a batch in
/// the depot. A guess, to be tuned: deep enough for wide fork-join bursts,
/// small enough (64 KiB per class at most) that idle threads hoard little.
inline constexpr std::size_t cached_blocks_per_class = 64;

// Both read this thread's cache (thread-locals), so neither may be inlined:
// a caller that switches fibers, such as fiber_entry's loop, which frees
// records between bodies, could otherwise reuse a thread-local's address
// computed before a switch after it, on another thread (design.md 12).

/// A block of at least `bytes` bytes, aligned to `align`. Any thread.
[[gnu::noinline]] void* allocate_block(std::size_t bytes, std::size_t align);
/// Returns a block from allocate_block with the same `bytes` and `align`. Any thread.
[[gnu::noinline]] void free_block(void* block, std::size_t bytes, std::size_t align) noexcept;

}  // namespace weft::detail
