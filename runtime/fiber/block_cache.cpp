// Per-thread block recycling. See block_cache.hpp.
#include "fiber/block_cache.hpp"

#include <array>
#include <cstddef>
#include <new>

namespace weft::detail {

namespace {

constexpr std::size_t granule = 64;
constexpr std::size_t max_cached = 1024;
constexpr std::size_t classes = max_cached / granule;
// A guess, to be tuned: deep enough for wide fork-join bursts, small enough
// (64 KiB per class at most) that idle threads hoard little.
constexpr std::size_t per_class = 64;

// True once this thread's cache is destroyed (trivially destructible, so it
// stays readable for the rest of thread or process exit, when fibers may
// still be spawned or freed by other objects' destructors).
thread_local bool cache_destroyed = false;

// One size class's free blocks: a stack linked through the blocks
// themselves (the first word of a free block points to the next), so that
// taking and giving back are a load and two stores, with no capacity to
// check or grow.
struct free_list {
  void* head = nullptr;
  std::size_t count = 0;

  void* pop() noexcept {
    void* block = head;
    head = *static_cast<void**>(block);
    --count;
    return block;
  }
  void push(void* block) noexcept {
    *static_cast<void**>(block) = head;
    head = block;
    ++count;
  }
};

struct thread_cache {
  std::array<free_list, classes> free{};
  ~thread_cache() {
    cache_destroyed = true;
    for (free_list& list : free) {
      while (list.head != nullptr) ::operator delete(list.pop());
    }
  }
};

thread_local thread_cache cache;

bool cacheable(std::size_t bytes, std::size_t align) noexcept {
  return bytes <= max_cached && align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__;
}

std::size_t class_of(std::size_t bytes) noexcept { return (bytes + granule - 1) / granule - 1; }

}  // namespace

void* allocate_block(std::size_t bytes, std::size_t align) {
  if (!cacheable(bytes, align)) return ::operator new (bytes, std::align_val_t{align});
  const std::size_t c = class_of(bytes);
  if (cache_destroyed) return ::operator new((c + 1) * granule);
  free_list& list = cache.free[c];
  if (list.head == nullptr) return ::operator new((c + 1) * granule);
  return list.pop();
}

void free_block(void* block, std::size_t bytes, std::size_t align) noexcept {
  if (!cacheable(bytes, align)) {
    ::operator delete (block, std::align_val_t{align});
    return;
  }
  if (!cache_destroyed) {
    free_list& list = cache.free[class_of(bytes)];
    if (list.count < per_class) {
      list.push(block);
      return;
    }
  }
  ::operator delete(block);
}

}  // namespace weft::detail
