// Per-thread block recycling. See block_cache.hpp.
#include "fiber/block_cache.hpp"

#include <pthread.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>

#include "platform/spinlock.hpp"

namespace weft::detail {

namespace {

constexpr std::size_t classes = max_cached_block / block_granule;

// True once this thread's cache is destroyed (trivially destructible, so it
// stays readable for the rest of thread or process exit, when fibers may
// still be spawned or freed by other objects' destructors).
// initial-exec (as worker.cpp's current_worker): a %fs-relative access, where
// the general model's __tls_get_addr call made the fast paths save registers.
__attribute__((tls_model("initial-exec"))) thread_local bool cache_destroyed = false;

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

// This thread's lists. Trivially destructible, so that the fast paths read
// them without a thread_local initialization guard; `lists_release`
// empties them at thread exit.
__attribute__((tls_model("initial-exec"))) thread_local std::array<free_list, classes> lists{};

struct lists_release {
  bool armed = false;
  ~lists_release() {
    cache_destroyed = true;
    for (free_list& list : lists) {
      while (list.head != nullptr) ::operator delete(list.pop());
    }
  }
};

// Constructed, and its destructor registered, by arm_release(): the slow
// paths call it before a list of this thread first holds a block.
thread_local lists_release release_at_exit;

void arm_release() noexcept { release_at_exit.armed = true; }

// The depot: full free lists that threads' caches overflowed, kept for threads
// whose cache ran dry. Records allocated on one thread and freed on another (a
// thread pool's submitter and its workers) so flow back in batches, one short
// lock per `cached_blocks_per_class` blocks, instead of one trip each through
// malloc's arena lock: measured on `pool`, that lock's futex calls were 43% of
// all samples.
//
// Invariants: a batch holds exactly `cached_blocks_per_class` blocks of one
// size class, linked through their first words as in a free_list; batches are
// linked through the second word of their first block (blocks are at least 64
// bytes). At most `max_batches` batches per class (a bound on what the depot
// hoards: 1 MiB for the largest class, 8.5 MiB for all); a thread whose deposit
// finds the class full frees its block to malloc as before. `count` is written
// under the lock and read without it first, so that a thread whose cache keeps
// running dry (a submitter ahead of its workers) or overflowing does not take
// the lock only to find nothing to do.
constexpr std::size_t max_batches = 16;

struct alignas(64) batch_stack {
  spinlock lock;
  void* top = nullptr;  // guarded by lock: first block of the newest batch
  // Batches held; written under the lock. relaxed: the look without the
  // lock is a hint, checked again under it.
  std::atomic<std::size_t> count{0};
};

std::array<batch_stack, classes>& depot();

// fork(): another thread may hold a class's lock at that moment, and the
// child, which has no such thread, would find it held forever. So the
// forking thread takes every lock before the fork and releases them after,
// in the parent and in the child.
void lock_depot_for_fork() noexcept {
  for (batch_stack& stack : depot()) stack.lock.lock();
}
void unlock_depot_after_fork() noexcept {
  for (batch_stack& stack : depot()) stack.lock.unlock();
}

// Never destroyed: threads may free blocks during and after static
// destruction. Reachable through this pointer, so not a leak.
std::array<batch_stack, classes>& depot() {
  static auto* const stacks = [] {
    auto* created = new std::array<batch_stack, classes>();
    ::pthread_atfork(&lock_depot_for_fork, &unlock_depot_after_fork, &unlock_depot_after_fork);
    return created;
  }();
  return *stacks;
}

// Built while the program loads, before it starts threads: a fork() while
// another thread ran the first call's initialization would leave the child
// waiting on the initialization guard forever (the block cache's fork test
// hung so, 1 run in hundreds, when its churning thread made the first call).
[[maybe_unused]] const bool depot_built_at_load = (depot(), true);

void** next_batch(void* first_block) noexcept { return static_cast<void**>(first_block) + 1; }

// Moves the full `list` of class `c` to the depot, leaving it empty. False
// (and `list` unchanged) if the depot holds max_batches of that class.
bool deposit(free_list& list, std::size_t c) noexcept {
  batch_stack& stack = depot()[c];
  if (stack.count.load(std::memory_order_relaxed) == max_batches) return false;
  std::lock_guard<spinlock> hold(stack.lock);
  const std::size_t held = stack.count.load(std::memory_order_relaxed);
  if (held == max_batches) return false;
  *next_batch(list.head) = stack.top;
  stack.top = list.head;
  stack.count.store(held + 1, std::memory_order_relaxed);
  list = free_list{};
  return true;
}

// Refills the empty `list` of class `c` with a batch from the depot. False
// if the depot has none.
bool withdraw(free_list& list, std::size_t c) noexcept {
  batch_stack& stack = depot()[c];
  if (stack.count.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<spinlock> hold(stack.lock);
  const std::size_t held = stack.count.load(std::memory_order_relaxed);
  if (held == 0) return false;
  list.head = stack.top;
  list.count = cached_blocks_per_class;
  stack.top = *next_batch(stack.top);
  stack.count.store(held - 1, std::memory_order_relaxed);
  return true;
}

// The slow paths, out of line: the fast paths below are then a pop or a push
// that saves no registers (skynet: 45 -> 19 instructions per allocation).
[[gnu::noinline]] void* allocate_slow(std::uint32_t c) {
  if (!cache_destroyed) {
    free_list& list = lists[c];  // empty: the fast path looked
    arm_release();
    if (withdraw(list, c)) return list.pop();
  }
  return ::operator new((c + 1) * block_granule);
}

[[gnu::noinline]] void free_slow(void* block, std::uint32_t c) noexcept {
  if (!cache_destroyed) {
    free_list& list = lists[c];  // empty or full: the fast path looked
    if (list.count == 0) {
      arm_release();
      list.push(block);
      return;
    }
    // A full list moves to the depot whole (one lock per list).
    if (deposit(list, c)) {
      list.push(block);
      return;
    }
  }
  ::operator delete(block);
}

}  // namespace

void* allocate_cached_block(std::uint32_t c) {
  if (!cache_destroyed) [[likely]] {
    free_list& list = lists[c];
    if (list.head != nullptr) [[likely]]
      return list.pop();
  }
  return allocate_slow(c);
}

void free_cached_block(void* block, std::uint32_t c) noexcept {
  if (!cache_destroyed) [[likely]] {
    free_list& list = lists[c];
    // Neither empty (the first block arms the release at exit) nor full.
    if (list.count - 1 < cached_blocks_per_class - 1) [[likely]] {
      list.push(block);
      return;
    }
  }
  free_slow(block, c);
}

void* allocate_uncached_block(std::size_t bytes, std::size_t align) {
  return ::operator new (bytes, std::align_val_t{align});
}

void free_uncached_block(void* block, std::size_t align) noexcept {
  ::operator delete (block, std::align_val_t{align});
}

}  // namespace weft::detail
