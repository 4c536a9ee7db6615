// White-box tests of the per-thread block cache and its depot: blocks freed
// on one thread return to the thread that allocates, in batches.
#include "fiber/block_cache.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using weft::detail::allocate_block;
using weft::detail::block_class;
using weft::detail::cached_blocks_per_class;
using weft::detail::free_block_of_class;
using weft::detail::uncached_block;

constexpr std::size_t block_bytes = 320;  // a size class no other test here uses
constexpr std::size_t block_align = alignof(std::max_align_t);
constexpr std::uint32_t size_class = block_class(block_bytes, block_align);

std::vector<void*> allocate_on_this_thread(std::size_t n) {
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < n; ++i) blocks.push_back(allocate_block(block_bytes, block_align));
  return blocks;
}

TEST(BlockCache, SizeClassesCoverTheirBytesAndLargeOrOveralignedBlocksBypassTheCache) {
  static_assert(block_class(1, 8) == 0 && block_class(64, 8) == 0 && block_class(65, 8) == 1);
  static_assert(block_class(1024, 16) == 15);
  static_assert(block_class(1025, 8) == uncached_block);
  static_assert(block_class(64, 32) == uncached_block);
  // A block of every class and of both bypasses is writable over its whole
  // size and aligned as asked (ASan checks the bounds), and goes back.
  for (const std::size_t bytes : {std::size_t{1}, std::size_t{64}, std::size_t{65},
                                  std::size_t{1024}, std::size_t{1025}, std::size_t{5000}}) {
    for (const std::size_t align : {std::size_t{8}, std::size_t{16}, std::size_t{64}}) {
      void* block = allocate_block(bytes, align);
      ASSERT_NE(block, nullptr);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % align, 0u) << bytes << " " << align;
      std::memset(block, 0xab, bytes);
      free_block_of_class(block, block_class(bytes, align), align);
    }
  }
}

TEST(BlockCache, BlocksFreedOnAnotherThreadComeBackToTheAllocatingThread) {
  // Thread A allocates two batches' worth; thread B frees them all. B's
  // cache keeps one list and moves the first full list to the depot, so A's
  // next allocations (its own cache is empty) are the blocks B freed first.
  const std::vector<void*> allocated = allocate_on_this_thread(2 * cached_blocks_per_class);
  std::thread([&allocated] {
    for (void* b : allocated) free_block_of_class(b, size_class, block_align);
  }).join();  // B's exit frees the list its cache kept (else the ASan build reports a leak)

  // A free list is a stack: B's first list holds blocks 0..63 with 63 on
  // top, and A pops them in that order (malloc would not hand back 64
  // blocks in exactly this order).
  const std::vector<void*> again = allocate_on_this_thread(cached_blocks_per_class);
  for (std::size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i], allocated[cached_blocks_per_class - 1 - i]) << i;
  }
  for (void* b : again) free_block_of_class(b, size_class, block_align);
}

TEST(BlockCache, ProducersAndConsumersOnManyThreadsNeverShareABlock) {
  // Producers allocate and stamp blocks, consumers check the stamp and free
  // them: every block crosses threads, far more than the depot holds. A
  // block handed out twice at once would carry the wrong stamp (and ASan
  // would see a double free).
  constexpr int threads = 4;
  const int per_producer = static_cast<int>(weft::test::scaled(40'000));
  std::mutex lock;
  std::vector<std::uint64_t*> handed;  // guarded by lock
  std::atomic<int> producers_left{threads};
  std::atomic<long> checked{0};
  std::vector<std::thread> all;
  for (int t = 0; t < threads; ++t) {
    all.emplace_back([&, t] {
      for (int i = 0; i < per_producer; ++i) {
        auto* b = static_cast<std::uint64_t*>(allocate_block(block_bytes, block_align));
        const std::uint64_t stamp =
            (static_cast<std::uint64_t>(t) << 32) | static_cast<unsigned>(i);
        for (std::size_t w = 0; w < block_bytes / sizeof(std::uint64_t); ++w) b[w] = stamp;
        std::lock_guard<std::mutex> hold(lock);
        handed.push_back(b);
      }
      producers_left.fetch_sub(1);
    });
    all.emplace_back([&] {
      for (;;) {
        std::vector<std::uint64_t*> mine;
        {
          std::lock_guard<std::mutex> hold(lock);
          mine.swap(handed);
        }
        if (mine.empty()) {
          if (producers_left.load() == 0) {
            std::lock_guard<std::mutex> hold(lock);
            if (handed.empty()) return;
          }
          std::this_thread::yield();
          continue;
        }
        for (std::uint64_t* b : mine) {
          for (std::size_t w = 1; w < block_bytes / sizeof(std::uint64_t); ++w) {
            ASSERT_EQ(b[w], b[0]);
          }
          free_block_of_class(b, size_class, block_align);
          checked.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& th : all) th.join();
  EXPECT_EQ(checked.load(), static_cast<long>(threads) * per_producer);
}

TEST(BlockCache, AForkWhileAnotherThreadUsesTheDepotLeavesItUsableInTheChild) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a fork of a multi-threaded process is outside what TSan models";
#elif defined(__SANITIZE_ADDRESS__)
  // GCC 12's ASan allocator holds no lock across fork(): a child forked while
  // the churning thread was inside malloc hangs in ASan's own malloc (seen in
  // SizeClassAllocator64::GetFromAllocator, 6 runs in 30). The release
  // configuration runs this test.
  GTEST_SKIP() << "ASan's allocator is not fork-safe against another thread inside it";
#endif
  // A thread moves lists to and from the depot without pause. A fork that
  // caught its lock held would leave the child's depot locked forever (the
  // child has no such thread), and the child's own trips through the
  // depot would hang.
  std::atomic<bool> stop{false};
  std::atomic<bool> warmed{false};
  std::thread churn([&stop, &warmed] {
    while (!stop.load(std::memory_order_relaxed)) {
      for (void* b : allocate_on_this_thread(2 * cached_blocks_per_class)) {
        free_block_of_class(b, size_class, block_align);
      }
      warmed = true;
      warmed.notify_one();
    }
  });
  // Forks from the churning thread's second round on: its first round made
  // its one-time registrations (its cache's release at thread exit), which a
  // fork must not catch half done; the depot itself is built at load.
  warmed.wait(false);
  const int forks = static_cast<int>(weft::test::scaled(300));
  int clean_exits = 0;
  for (int i = 0; i < forks; ++i) {
    const pid_t child = ::fork();
    if (child == 0) {
      // More than this thread's list holds, both ways: a withdrawal and a deposit.
      for (void* b : allocate_on_this_thread(3 * cached_blocks_per_class)) {
        free_block_of_class(b, size_class, block_align);
      }
      ::_exit(0);
    }
    int status = 0;
    if (child == -1 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      break;  // reported below, once the churning thread is joined
    }
    ++clean_exits;
  }
  stop.store(true);
  churn.join();
  EXPECT_EQ(clean_exits, forks);
}

}  // namespace
