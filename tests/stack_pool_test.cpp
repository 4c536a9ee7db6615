// White-box tests of fiber stacks: sizes, reuse, guards.
#include "fiber/stack_pool.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

namespace {

using weft::detail::fiber_stack;
using weft::detail::stack_cache;
using weft::detail::stack_pool;

TEST(StackPool, DefaultStacksAreDistinctWritableAndGuarded) {
  const std::size_t size = weft::detail::round_stack_size(64 * 1024);
  stack_pool pool(size);
  stack_cache cache(pool);
  std::vector<fiber_stack> stacks;
  std::set<std::byte*> bottoms;
  for (int i = 0; i < 200; ++i) {  // more than one slab
    fiber_stack s = cache.acquire(0);
    ASSERT_EQ(s.size, size + pool.headroom());  // room for an inline child (inline_join.hpp)
    std::memset(s.bottom, 0xAB, s.size);        // the whole usable range is writable
    EXPECT_TRUE(s.guard_contains(s.bottom - 1));
    EXPECT_TRUE(s.guard_contains(s.bottom - weft::detail::guard_bytes));
    EXPECT_FALSE(s.guard_contains(s.bottom));
    bottoms.insert(s.bottom);
    stacks.push_back(s);
  }
  EXPECT_EQ(bottoms.size(), stacks.size());
  for (const fiber_stack& s : stacks) cache.release(s);
  // The most recently released stack is reused first (its pages are warm).
  const fiber_stack again = cache.acquire(0);
  EXPECT_EQ(again.bottom, stacks.back().bottom);
  cache.release(again);
}

TEST(StackPool, OtherSizesGetTheirOwnMapping) {
  stack_pool pool(weft::detail::round_stack_size(64 * 1024));
  stack_cache cache(pool);
  const fiber_stack big = cache.acquire(weft::detail::round_stack_size(300 * 1000));
  EXPECT_FALSE(big.from_slab);
  EXPECT_GE(big.size, 300U * 1000U + pool.headroom());
  std::memset(big.bottom, 0, big.size);
  cache.release(big);
}

TEST(StackPool, RoundsToPages) {
  EXPECT_EQ(weft::detail::round_stack_size(1) % 4096, 0U);
  EXPECT_GE(weft::detail::round_stack_size(70'000), 70'000U);
}

TEST(StackPoolDeathTest, TouchingTheGuardFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        stack_pool pool(weft::detail::round_stack_size(64 * 1024));
        stack_cache cache(pool);
        fiber_stack s = cache.acquire(0);
        *reinterpret_cast<volatile char*>(s.bottom - 1) = 1;
      },
      "");
}

}  // namespace
