// Fiber stacks: slabs, guard regions, per-worker caches. See stack_pool.hpp.
#include "fiber/stack_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <new>

namespace weft::detail {

namespace {

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13; older headers lack the name
#endif

// Stacks per slab: a guess; 64 × (2 × 64 KiB + 16 KiB) = 9 MiB of address space
// per mapping keeps the mapping count ~64× below the stack count.
constexpr std::size_t slab_stacks = 64;

std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

// Whether MADV_GUARD_INSTALL works here; decided by the first attempt.
// relaxed: every thread that races on the first attempt computes the same answer.
std::atomic<int> guard_madvise_works{-1};

// Makes [address, address + bytes) fault on any access.
bool install_guard(void* address, std::size_t bytes) noexcept {
  if (guard_madvise_works.load(std::memory_order_relaxed) != 0) {
    if (madvise(address, bytes, MADV_GUARD_INSTALL) == 0) {
      guard_madvise_works.store(1, std::memory_order_relaxed);
      return true;
    }
    guard_madvise_works.store(0, std::memory_order_relaxed);
  }
  return mprotect(address, bytes, PROT_NONE) == 0;
}

void* map_region(std::size_t bytes) {
  // MAP_NORESERVE: only touched pages count against memory; a parked fiber
  // touches one or two pages of its stack.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

}  // namespace

std::size_t round_stack_size(std::size_t bytes) noexcept {
  const std::size_t page = page_size();
  return (bytes + page - 1) / page * page;
}

stack_pool::stack_pool(std::size_t default_size) : default_size_(default_size) {}

stack_pool::~stack_pool() {
  for (const slab& s : slabs_) munmap(s.base, s.bytes);
}

void stack_pool::map_slab() {
  const std::size_t usable = default_size_ + headroom();
  const std::size_t stride = guard_bytes + usable;
  auto* base = static_cast<std::byte*>(map_region(stride * slab_stacks));
  slabs_.push_back({base, stride * slab_stacks});
  for (std::size_t i = 0; i < slab_stacks; ++i) {
    std::byte* guard = base + i * stride;
    if (!install_guard(guard, guard_bytes)) throw std::bad_alloc();
    free_.push_back(fiber_stack{guard + guard_bytes, usable, true});
  }
}

void stack_pool::take_default(std::vector<fiber_stack>& out, std::size_t count) {
  std::lock_guard<spinlock> hold(lock_);
  if (free_.empty()) map_slab();
  while (count-- > 0 && !free_.empty()) {
    out.push_back(free_.back());
    free_.pop_back();
  }
}

void stack_pool::give_default(const fiber_stack* stacks, std::size_t count) {
  std::lock_guard<spinlock> hold(lock_);
  free_.insert(free_.end(), stacks, stacks + count);
}

fiber_stack stack_pool::map_single(std::size_t size) const {
  size += headroom();
  auto* base = static_cast<std::byte*>(map_region(guard_bytes + size));
  if (!install_guard(base, guard_bytes)) {
    munmap(base, guard_bytes + size);
    throw std::bad_alloc();
  }
  return fiber_stack{base + guard_bytes, size, false};
}

void stack_pool::unmap_single(const fiber_stack& stack) noexcept {
  munmap(stack.bottom - guard_bytes, guard_bytes + stack.size);
}

stack_cache::~stack_cache() {
  if (!hot_.empty()) pool_.give_default(hot_.data(), hot_.size());
}

fiber_stack stack_cache::acquire(std::size_t size) {
  if (size != 0 && size != pool_.default_size()) return pool_.map_single(size);
  if (hot_.empty()) pool_.take_default(hot_, refill);
  fiber_stack s = hot_.back();
  hot_.pop_back();
  return s;
}

void stack_cache::release(const fiber_stack& stack) noexcept {
  if (!stack.from_slab) {
    stack_pool::unmap_single(stack);
    return;
  }
  if (hot_.size() == capacity) {
    // Hand the older half to the shared list, keep the most recent (warmest).
    const std::size_t half = capacity / 2;
    pool_.give_default(hot_.data(), half);
    hot_.erase(hot_.begin(), hot_.begin() + static_cast<std::ptrdiff_t>(half));
  }
  hot_.push_back(stack);
}

}  // namespace weft::detail
