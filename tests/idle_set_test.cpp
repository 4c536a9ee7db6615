// White-box tests of the idle protocol's counts (idle.hpp): who must re-check
// the work sources before sleeping; and, through the runtime, that work
// published while workers fall asleep is never stranded.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <string>

#include "scheduler/idle.hpp"
#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

void count_wake(void* context, unsigned /*index*/) noexcept { ++*static_cast<int*>(context); }

TEST(IdleSet, AddSleeperAndEndSearchSayWhoElseSearches) {
  int wakes = 0;
  weft::detail::idle_set idle(4, &count_wake, &wakes);
  ASSERT_TRUE(idle.try_begin_search());  // worker 0
  ASSERT_TRUE(idle.try_begin_search());  // worker 1
  // Worker 2, not searching (as if refused the search), goes to sleep: two
  // others search, so it may skip the re-check.
  EXPECT_EQ(idle.add_sleeper(2), 2U);
  // Worker 0 gives up: listed, then its end_search reads worker 1 searching.
  EXPECT_EQ(idle.add_sleeper(0), 2U);
  EXPECT_EQ(idle.end_search(false), 1U);
  // Worker 1, the last searcher, must re-check: nobody else searches.
  EXPECT_EQ(idle.add_sleeper(1), 1U);  // itself, still counted
  EXPECT_EQ(idle.end_search(false), 0U);
  EXPECT_EQ(idle.sleeping(), 3U);
  EXPECT_EQ(idle.searching(), 0U);
  EXPECT_EQ(wakes, 0);
  // Work published now wakes one sleeper, counted as searching for it.
  idle.notify_work_available();
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(idle.searching(), 1U);
  EXPECT_EQ(idle.sleeping(), 2U);
  // It finds the work as the last searcher: the next sleeper is woken.
  EXPECT_EQ(idle.end_search(true), 0U);
  EXPECT_EQ(wakes, 2);
}

// One outside thread hands tasks over one at a time and waits for each, so
// that between tasks every worker searches, is refused the search or gives
// it up, and goes to sleep: each task must still run (a stranded one hangs
// the test until CTest's timeout). Then bursts, which wake the workers in a
// chain while others fall asleep.
class IdleWorkers : public ::testing::TestWithParam<unsigned> {};

TEST_P(IdleWorkers, OutsideWorkIsNeverStrandedWhileWorkersFallAsleep) {
  weft::thread_pool pool(GetParam());
  const std::size_t rounds = weft::test::scaled(2'000);
  std::atomic<std::size_t> ran{0};
  for (std::size_t i = 0; i < rounds; ++i) {
    pool.detach([&] { ran.fetch_add(1, std::memory_order_relaxed); });
    pool.wait();
    ASSERT_EQ(ran.load(), i + 1);
  }
  for (std::size_t burst = 0; burst < 200; ++burst) {
    for (std::size_t i = 0; i < burst; ++i) {
      pool.detach([&] { ran.fetch_add(1, std::memory_order_relaxed); });
    }
    pool.wait();
  }
  EXPECT_EQ(ran.load(), rounds + 199 * 200 / 2);
}

INSTANTIATE_TEST_SUITE_P(Workers, IdleWorkers, ::testing::Values(1U, 2U, 4U, 8U),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

}  // namespace
