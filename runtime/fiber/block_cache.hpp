// block_cache: per-thread recycling of fiber records.
//
// Every spawn allocates one block (fiber record + task) and every finished
// fiber frees one, often on another worker. glibc's per-thread cache keeps
// only 7 blocks per size, so a fork-join burst of 10 children already falls
// through to the arena and its locks (measured: malloc+free were 18% of a
// skynet run). This cache keeps up to `per_class` blocks per 64-byte size
// class on each thread; a block freed on another thread simply joins that
// thread's cache. Blocks above `max_cached` bytes or with alignment above
// the default new alignment bypass it.
#pragma once

#include <cstddef>

namespace weft::detail {

// Both read this thread's cache (thread-locals), so neither may be inlined:
// a caller that switches fibers, such as fiber_entry's loop, which frees
// records between bodies, could otherwise reuse a thread-local's address
// computed before a switch after it, on another thread (design.md 12).

/// A block of at least `bytes` bytes, aligned to `align`. Any thread.
[[gnu::noinline]] void* allocate_block(std::size_t bytes, std::size_t align);
/// Returns a block from allocate_block with the same `bytes` and `align`. Any thread.
[[gnu::noinline]] void free_block(void* block, std::size_t bytes, std::size_t align) noexcept;

}  // namespace weft::detail
