// White-box tests of the timer heap: order, removal, firing.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "scheduler/timers.hpp"

namespace {

using weft::detail::timer_entry;
using weft::detail::timer_heap;

struct recorded : timer_entry {
  std::vector<std::int64_t>* fired = nullptr;
};

void record(timer_entry* e) noexcept {
  auto* r = static_cast<recorded*>(e);
  r->fired->push_back(r->deadline_ns);
}

TEST(TimerHeap, FiresDueEntriesInDeadlineOrder) {
  std::vector<std::int64_t> fired;
  std::vector<recorded> entries(1000);
  std::mt19937 rng(7);
  timer_heap heap;
  for (auto& e : entries) {
    e.deadline_ns = static_cast<std::int64_t>(rng() % 10'000);
    e.fire = &record;
    e.fired = &fired;
    heap.add(&e);
  }
  EXPECT_EQ(heap.fire_due(4'999), static_cast<std::size_t>(std::count_if(
                                      entries.begin(), entries.end(),
                                      [](const recorded& r) { return r.deadline_ns <= 4'999; })));
  EXPECT_GT(heap.earliest(), 4'999);
  heap.fire_due(10'000);
  EXPECT_EQ(fired.size(), entries.size());
  EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
  EXPECT_EQ(heap.earliest(), weft::detail::no_deadline);
}

TEST(TimerHeap, RemovedEntriesNeverFire) {
  std::vector<std::int64_t> fired;
  std::vector<recorded> entries(500);
  timer_heap heap;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i].deadline_ns = static_cast<std::int64_t>((i * 7919) % 1000);
    entries[i].fire = &record;
    entries[i].fired = &fired;
    heap.add(&entries[i]);
  }
  std::size_t removed = 0;
  for (std::size_t i = 0; i < entries.size(); i += 3) {
    EXPECT_TRUE(heap.remove(&entries[i]));
    EXPECT_FALSE(heap.remove(&entries[i]));  // a second removal finds nothing
    ++removed;
  }
  heap.fire_due(1000);
  EXPECT_EQ(fired.size(), entries.size() - removed);
  EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
  for (std::size_t i = 0; i < entries.size(); i += 3) EXPECT_FALSE(heap.remove(&entries[i]));
}

TEST(TimerHeap, EarliestTracksTheMinimum) {
  timer_heap heap;
  recorded a, b;
  std::vector<std::int64_t> fired;
  a.deadline_ns = 50;
  b.deadline_ns = 10;
  a.fire = b.fire = &record;
  a.fired = b.fired = &fired;
  EXPECT_EQ(heap.earliest(), weft::detail::no_deadline);
  heap.add(&a);
  EXPECT_EQ(heap.earliest(), 50);
  heap.add(&b);
  EXPECT_EQ(heap.earliest(), 10);
  EXPECT_TRUE(heap.remove(&b));
  EXPECT_EQ(heap.earliest(), 50);
  EXPECT_EQ(heap.fire_due(49), 0U);
  EXPECT_EQ(heap.fire_due(50), 1U);
  EXPECT_EQ(fired, std::vector<std::int64_t>{50});
}

}  // namespace
