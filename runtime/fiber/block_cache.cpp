// Per-thread block recycling. See block_cache.hpp.
#include "fiber/block_cache.hpp"

#include <array>
#include <new>
#include <vector>

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

struct thread_cache {
  std::array<std::vector<void*>, classes> free;
  ~thread_cache() {
    cache_destroyed = true;
    for (auto& list : free) {
      for (void* p : list) ::operator delete(p);
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
  std::vector<void*>& list = cache.free[c];
  if (list.empty()) return ::operator new((c + 1) * granule);
  void* p = list.back();
  list.pop_back();
  return p;
}

void free_block(void* block, std::size_t bytes, std::size_t align) noexcept {
  if (!cacheable(bytes, align)) {
    ::operator delete (block, std::align_val_t{align});
    return;
  }
  if (!cache_destroyed) {
    std::vector<void*>& list = cache.free[class_of(bytes)];
    if (list.size() < list.capacity()) {
      list.push_back(block);  // no allocation: within reserved capacity
      return;
    }
    if (list.capacity() == 0) {
      try {
        list.reserve(per_class);
        list.push_back(block);
        return;
      } catch (const std::bad_alloc&) {
        // fall through: just free it
      }
    }
  }
  ::operator delete(block);
}

}  // namespace weft::detail
