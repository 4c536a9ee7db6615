// Scheduler stress scenarios, each with 1, 2, 4 and 8 workers, each checking
// conservation (every fiber ran exactly once, every sum exact).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft::test::scaled;

class Scheduler : public ::testing::TestWithParam<unsigned> {
 protected:
  weft::runtime rt{weft::options{.workers = GetParam()}};
};

// A 10-ary spawn tree with `leaves` leaves; each leaf returns its ordinal.
std::int64_t spawn_tree(std::int64_t first, std::int64_t leaves) {
  if (leaves == 1) return first;
  const std::int64_t part = leaves / 10;
  weft::join_handle<std::int64_t> children[10];
  for (int i = 0; i < 10; ++i) children[i] = weft::spawn(spawn_tree, first + i * part, part);
  std::int64_t sum = 0;
  for (auto& c : children) sum += c.join();
  return sum;
}

TEST_P(Scheduler, MillionFiberSpawnTree) {
  const std::int64_t leaves = static_cast<std::int64_t>(scaled(1'000'000));
  const std::int64_t sum = rt.block_on([leaves] { return spawn_tree(0, leaves); });
  EXPECT_EQ(sum, leaves * (leaves - 1) / 2);
  while (rt.stats().alive != 0) std::this_thread::yield();
  // 10 + 100 + ... + leaves fibers, plus the root.
  std::uint64_t fibers = 1;
  for (std::int64_t level = 10; level <= leaves; level *= 10)
    fibers += static_cast<std::uint64_t>(level);
  EXPECT_EQ(rt.stats().spawned, fibers);
  EXPECT_EQ(rt.stats().completed, fibers);
}

TEST_P(Scheduler, ForkJoinFib) {
  // Smaller under sanitizers (test_support.hpp).
  constexpr int n = weft::test::scaled(1000) == 1000 ? 25 : 18;
  constexpr std::int64_t expected = weft::test::fib_value(n);
  EXPECT_EQ(rt.block_on([] { return weft::test::spawn_fib(n); }), expected);
}

TEST_P(Scheduler, TenThousandSleepers) {
  const std::size_t sleepers = scaled(10'000);
  std::atomic<std::size_t> woke{0};
  const auto start = std::chrono::steady_clock::now();
  rt.block_on([&] {
    std::vector<weft::join_handle<void>> hs;
    hs.reserve(sleepers);
    for (std::size_t i = 0; i < sleepers; ++i) {
      hs.push_back(weft::spawn([&woke, i] {
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(1 + i % 20);
        weft::this_fiber::sleep_until(deadline);
        // Never early: the deadline has passed when the fiber resumes.
        if (std::chrono::steady_clock::now() >= deadline) woke.fetch_add(1);
      }));
    }
    for (auto& h : hs) h.join();
  });
  EXPECT_EQ(woke.load(), sleepers);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
}

TEST_P(Scheduler, SpawnStormFromFourOutsideThreads) {
  const std::size_t per_thread = scaled(50'000);
  std::atomic<std::size_t> ran{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i = 0; i < per_thread; ++i) {
        rt.spawn([&ran] { ran.fetch_add(1, std::memory_order_relaxed); }).detach();
      }
    });
  }
  for (auto& t : threads) t.join();
  while (rt.stats().alive != 0) std::this_thread::yield();
  EXPECT_EQ(ran.load(), 4 * per_thread);
  EXPECT_EQ(rt.stats().spawned, 4 * per_thread);
}

TEST_P(Scheduler, WakeUpAfterIdle) {
  // Repeatedly let every worker go idle (the only fiber sleeps), then spawn
  // from outside: each spawn must wake a sleeping worker.
  for (int round = 0; round < 50; ++round) {
    EXPECT_EQ(rt.spawn([round] { return round; }).join(), round);
    rt.block_on([] { weft::this_fiber::sleep_for(200us); });
  }
}

TEST_P(Scheduler, ParkedFibersResumeOnAnyWorker) {
  // Fibers park (join) on one worker and are woken from others; the runtime's
  // thread-locals are re-read after each switch, so ids and runtime stay right.
  const std::size_t pairs = scaled(2'000);
  std::atomic<std::size_t> checked{0};
  rt.block_on([&] {
    std::vector<weft::join_handle<void>> hs;
    for (std::size_t i = 0; i < pairs; ++i) {
      hs.push_back(weft::spawn([&checked] {
        const weft::fiber_id me = weft::this_fiber::get_id();
        weft::runtime* mine = weft::runtime::current();
        for (int k = 0; k < 5; ++k) {
          weft::spawn([] { weft::this_fiber::yield(); }).join();
          weft::this_fiber::yield();
          if (weft::this_fiber::get_id() != me || weft::runtime::current() != mine) return;
        }
        checked.fetch_add(1);
      }));
    }
    for (auto& h : hs) h.join();
  });
  EXPECT_EQ(checked.load(), pairs);
}

INSTANTIATE_TEST_SUITE_P(Workers, Scheduler, ::testing::ValuesIn(weft::test::worker_counts),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

TEST(Yield, FairOnOneWorker) {
  // One worker: a fiber spinning on yield() until another sets a flag must
  // finish, which needs yield() to run the other fiber.
  weft::runtime rt(weft::options{.workers = 1});
  std::atomic<bool> flag{false};
  rt.block_on([&flag] {
    auto spinner = weft::spawn([&flag] {
      while (!flag.load()) weft::this_fiber::yield();
    });
    auto setter = weft::spawn([&flag] { flag.store(true); });
    spinner.join();
    setter.join();
  });
  EXPECT_TRUE(flag.load());
}

TEST(Yield, TwoYieldersAlternate) {
  weft::runtime rt(weft::options{.workers = 1});
  std::vector<int> order;
  rt.block_on([&order] {
    auto a = weft::spawn([&order] {
      for (int i = 0; i < 100; ++i) {
        order.push_back(0);
        weft::this_fiber::yield();
      }
    });
    auto b = weft::spawn([&order] {
      for (int i = 0; i < 100; ++i) {
        order.push_back(1);
        weft::this_fiber::yield();
      }
    });
    a.join();
    b.join();
  });
  ASSERT_EQ(order.size(), 200U);
  for (std::size_t i = 1; i < order.size(); ++i) EXPECT_NE(order[i], order[i - 1]) << "at " << i;
}

TEST(Fairness, PingPongPairDoesNotStarveOlderWork) {
  // Two fibers that wake each other forever keep the LIFO end of the deque
  // busy; an older ready fiber and a yielder must still get to run.
  weft::runtime rt(weft::options{.workers = 1});
  std::atomic<bool> stop{false};
  std::atomic<bool> older_ran{false}, yielder_ran{false};
  rt.block_on([&] {
    weft::channel<int> ping, pong;
    auto a = weft::spawn([&, ping, pong]() mutable {
      while (!stop.load()) {
        ping.send(1);
        pong.recv();
      }
      ping.close();
    });
    auto b = weft::spawn([ping, pong]() mutable {
      while (ping.recv()) pong.send(1);
    });
    auto yielder = weft::spawn([&] {
      weft::this_fiber::yield();
      yielder_ran.store(true);
    });
    auto older = weft::spawn([&] { older_ran.store(true); });
    while (!older_ran.load() || !yielder_ran.load()) weft::this_fiber::yield();
    stop.store(true);
    a.join();
    b.join();
    yielder.join();
    older.join();
  });
  EXPECT_TRUE(older_ran.load());
  EXPECT_TRUE(yielder_ran.load());
}

TEST(Timers, SleepOnABusyWorkerWakesOnTime) {
  // One worker stays busy; the other sleeps. A short sleep armed on the busy
  // worker must be fired by the sleeping one, not wait for the busy one.
  weft::runtime rt(weft::options{.workers = 2});
  std::atomic<bool> stop{false};
  std::atomic<int> slept{0};
  rt.block_on([&] {
    auto sleeper = weft::spawn([&] {
      for (int i = 0; i < 20; ++i) {
        weft::this_fiber::sleep_for(std::chrono::microseconds(200));
        slept.fetch_add(1);
      }
      stop.store(true);
    });
    // Busy without parking or yielding, on whichever worker runs it.
    auto busy = weft::spawn([&] {
      while (!stop.load()) {
      }
    });
    sleeper.join();
    busy.join();
  });
  EXPECT_EQ(slept.load(), 20);
}

TEST(Yield, YielderDoesNotStarveNewWork) {
  // A fiber that yields forever on one worker must not keep a newly spawned
  // fiber, a woken sleeper, or outside work from running.
  weft::runtime rt(weft::options{.workers = 1});
  std::atomic<bool> stop{false};
  auto yielder = rt.spawn([&stop] {
    while (!stop.load()) weft::this_fiber::yield();
  });
  EXPECT_EQ(rt.spawn([] { return 1; }).join(), 1);                                 // outside spawn
  rt.block_on([] { weft::this_fiber::sleep_for(1ms); });                           // timer
  EXPECT_EQ(rt.block_on([] { return weft::spawn([] { return 2; }).join(); }), 2);  // local spawn
  stop.store(true);
  yielder.join();
}

}  // namespace
