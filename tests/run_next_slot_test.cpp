// White-box tests for weft::detail::run_next_slot (runtime/scheduler/run_next_slot.hpp):
// the owner's plain swaps against watchers' steals, every fiber owned exactly once.
//
// The "fibers" are stand-ins, never run: the slot only stores pointers. Each carries a plain
// (non-atomic) payload written before it is placed and read by whoever takes it, so that under
// ThreadSanitizer the test checks that the slot publishes the data behind the pointer.

#include "scheduler/run_next_slot.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "platform/spinlock.hpp"

namespace weft::detail {
namespace {

// The slot only stores fiber pointers, never dereferences them: items stand in for fibers.
struct item {
  std::uint64_t payload = 0;
  std::atomic<std::uint32_t> taken{0};
};
fiber* as_fiber(item& i) { return reinterpret_cast<fiber*>(&i); }
item& as_item(fiber* f) { return *reinterpret_cast<item*>(f); }

TEST(RunNextSlot, SwapReturnsWhatWasThere) {
  run_next_slot slot;
  item ia, ib;
  fiber* const a = as_fiber(ia);
  fiber* const b = as_fiber(ib);
  EXPECT_FALSE(slot.occupied());
  EXPECT_EQ(slot.swap(a), nullptr);
  EXPECT_TRUE(slot.occupied());
  EXPECT_TRUE(slot.occupied());
  EXPECT_EQ(slot.swap(b), a);
  EXPECT_EQ(slot.swap(nullptr), b);
  EXPECT_FALSE(slot.occupied());
  EXPECT_EQ(slot.swap(nullptr), nullptr);
}

TEST(RunNextSlot, AStealTakesTheFiberItSawOnlyIfTheOwnerLeftTheSlotAlone) {
  run_next_slot slot;
  item ia, ib;
  fiber* const a = as_fiber(ia);
  fiber* const b = as_fiber(ib);
  slot.swap(a);
  const run_next_slot::sighting seen = slot.look();
  EXPECT_EQ(seen.f, a);
  EXPECT_EQ(seen.version % 2, 0u);  // no swap in progress
  slot.swap(b);                     // the owner moved on: the sighting is stale
  EXPECT_FALSE(slot.steal(seen));
  EXPECT_EQ(slot.look().f, b);

  const run_next_slot::sighting fresh = slot.look();
  EXPECT_TRUE(slot.steal(fresh));
  EXPECT_FALSE(slot.occupied());
  EXPECT_EQ(slot.swap(nullptr), nullptr);  // the owner finds it gone
  EXPECT_FALSE(slot.steal(slot.look()));   // nothing to take
}

class RunNextSlotStress : public ::testing::TestWithParam<int> {};

// One owner places items one after another (sometimes emptying the slot as a scheduling
// decision would) while GetParam() watchers try to steal whatever they see. Every item must end
// up with exactly one taker: the owner (what swap() returned) or a watcher (a won steal).
TEST_P(RunNextSlotStress, EveryFiberIsTakenExactlyOnce) {
  constexpr std::size_t items = 20'000;
  std::vector<item> pool(items);
  run_next_slot slot;
  std::atomic<bool> done{false};
  std::atomic<std::size_t> stolen{0};

  auto take = [&pool](fiber* f) {
    item& i = as_item(f);
    // Published with the pointer: written by the owner before it placed the item.
    EXPECT_EQ(i.payload, static_cast<std::uint64_t>(&i - pool.data()) + 1);
    i.taken.fetch_add(1, std::memory_order_relaxed);
  };

  std::vector<std::thread> watchers;
  for (int w = 0; w < GetParam(); ++w) {
    watchers.emplace_back([&] {
      while (!done.load(std::memory_order_acquire)) {
        const run_next_slot::sighting seen = slot.look();
        if (seen.f && slot.steal(seen)) {
          take(seen.f);
          stolen.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }

  for (std::size_t i = 0; i < items; ++i) {
    pool[i].payload = i + 1;
    if (fiber* previous = slot.swap(as_fiber(pool[i]))) take(previous);
    if (i % 3 == 0) {
      if (fiber* f = slot.swap(nullptr)) take(f);
    }
    // Pauses of varying length (up to a few microseconds, about a membarrier's cost): a watcher
    // starts its steal in one, and the owner's next swaps overlap its fence and CAS.
    for (std::size_t spin = 0; spin < (i * 7919) % 4096 && slot.occupied(); ++spin) {
      cpu_relax();
    }
  }
  if (fiber* f = slot.swap(nullptr)) take(f);
  done.store(true, std::memory_order_release);
  for (std::thread& t : watchers) t.join();

  for (std::size_t i = 0; i < items; ++i) {
    ASSERT_EQ(pool[i].taken.load(std::memory_order_relaxed), 1u) << "item " << i;
  }
  EXPECT_FALSE(slot.occupied());
  // Not asserted (it depends on timing): how many of them the watchers took.
  RecordProperty("stolen", static_cast<int>(stolen.load()));
}

INSTANTIATE_TEST_SUITE_P(Watchers, RunNextSlotStress, ::testing::Values(1, 2, 4, 8),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return std::to_string(param_info.param) + "Watchers";
                         });

}  // namespace
}  // namespace weft::detail
