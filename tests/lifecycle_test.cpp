// Runtime life cycle: many runtimes, idle cost, shutdown, fatal reports.
#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

TEST(Lifecycle, CreateAndDestroyTwoHundredRuntimes) {
  int sum = 0;
  for (int i = 0; i < 200; ++i) {
    weft::runtime rt(weft::options{.workers = 1 + static_cast<unsigned>(i % 4)});
    sum += rt.block_on([i] { return weft::spawn([i] { return i; }).join(); });
  }
  EXPECT_EQ(sum, 199 * 200 / 2);
}

TEST(Lifecycle, DestructorWaitsForDetachedFibersSpawningMore) {
  std::atomic<int> leaves{0};
  {
    weft::runtime rt(weft::options{.workers = 2});
    rt.spawn([&leaves] {
        for (int i = 0; i < 100; ++i) {
          weft::spawn([&leaves] {
            weft::this_fiber::sleep_for(2ms);
            leaves.fetch_add(1);
          }).detach();
        }
      }).detach();
  }
  EXPECT_EQ(leaves.load(), 100);
}

TEST(Lifecycle, JoinFromPlainThreadBlocksUntilDone) {
  weft::runtime rt(weft::options{.workers = 2});
  std::atomic<bool> finished{false};
  auto h = rt.spawn([&finished] {
    weft::this_fiber::sleep_for(20ms);
    finished.store(true);
    return 9;
  });
  EXPECT_EQ(h.join(), 9);  // blocked on a futex, not spinning
  EXPECT_TRUE(finished.load());
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

TEST(Lifecycle, IdleRuntimeUsesAlmostNoCpu) {
  weft::runtime rt(weft::options{.workers = 4});
  // Make every worker run something once, so all of them go through the
  // search-then-sleep path at least once.
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 16; ++i) hs.push_back(rt.spawn([] { weft::this_fiber::yield(); }));
  for (auto& h : hs) h.join();
  const double cpu_before = process_cpu_seconds();
  const auto wall_before = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1s);  // the measurement window, not a settle delay
  const double cpu = process_cpu_seconds() - cpu_before;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  EXPECT_LT(cpu, 0.05 * wall) << "idle workers used " << cpu << " s of CPU in " << wall << " s";
}

TEST(Lifecycle, RuntimesOnManyThreadsAtOnce) {
  std::atomic<int> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&total] {
      for (int i = 0; i < 10; ++i) {
        weft::runtime rt(weft::options{.workers = 2});
        total.fetch_add(rt.block_on([] { return weft::spawn([] { return 1; }).join(); }));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(total.load(), 40);
}

// ---- fatal reports (death tests run in a child process)

class FatalReports : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(FatalReports, StackOverflowNamesTheFiber) {
  EXPECT_DEATH(
      {
        weft::runtime rt(weft::options{.workers = 1});
        rt.spawn(weft::spawn_options{.name = "deep", .stack_size = 32 * 1024}, [] {
            return weft::test::recurse_deep(0, 1 << 20);
          }).join();
      },
      "weft: stack overflow in fiber [0-9]+ \"deep\" \\(stack 32 KiB\\)");
}

TEST_F(FatalReports, DetachedExceptionIsReportedWithIdAndName) {
  EXPECT_DEATH(
      {
        weft::runtime rt(weft::options{.workers = 1});
        rt.spawn(weft::spawn_options{.name = "doomed"}, [] {
            throw std::runtime_error("lost in the void");
          }).detach();
      },
      "weft: detached fiber [0-9]+ \"doomed\" exited with an uncaught exception: lost in the "
      "void");
}

TEST_F(FatalReports, SpawnDetachedExceptionIsReportedWithIdAndName) {
  EXPECT_DEATH(
      {
        weft::runtime rt(weft::options{.workers = 1});
        rt.spawn_detached(weft::spawn_options{.name = "handless"},
                          [] { throw std::runtime_error("nobody to join"); });
      },
      "weft: detached fiber [0-9]+ \"handless\" exited with an uncaught exception: nobody to "
      "join");
}

}  // namespace
