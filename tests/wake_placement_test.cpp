// Where woken fibers run (docs/design.md, "Where a woken fiber goes"): a
// fiber woken by another stays on the waker's worker; spawned work spreads;
// a woken fiber stranded behind a busy fiber is taken by an idle worker; and
// a pair of fibers waking each other starves nothing on its worker. No test
// here depends on timing: each waits on a condition, and a policy that broke
// would show as a count out of bounds or as a hang (the CTest timeout).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using weft::test::scaled;

class WakePlacement : public ::testing::TestWithParam<unsigned> {};

// Runs a ping-pong pair for `rounds` rounds; returns the rounds in which
// the echo side ran on another thread than the sender.
long split_rounds(weft::runtime& rt, long rounds) {
  long changes = 0;
  long echoed = 0;  // rounds the echo side answered (read after join)
  rt.block_on([&] {
    weft::channel<std::thread::id> ping, pong;
    auto echo = weft::spawn([ping, pong, &echoed]() mutable {
      while (ping.recv()) {
        ++echoed;
        pong.send(std::this_thread::get_id());
      }
    });
    for (long i = 0; i < rounds; ++i) {
      ping.send(std::this_thread::get_id());
      if (*pong.recv() != std::this_thread::get_id()) ++changes;
    }
    ping.close();
    echo.join();
  });
  EXPECT_EQ(echoed, rounds);
  return changes;
}

TEST_P(WakePlacement, TalkingFibersStayOnOneWorker) {
  // A ping-pong pair: each wake puts the partner on the waker's worker, so
  // after the first rounds both run on one thread. Before run-next slots,
  // an idle worker stole the woken partner at once and the pair kept
  // crossing threads (and contending for the channel from two CPUs): 8,000
  // to 20,000 of 20,000 rounds split, every time.
  weft::runtime rt(weft::options{.workers = GetParam()});
  const long rounds = static_cast<long>(scaled(20'000));
  // Only the first rounds and OS preemptions of the pair's worker (the
  // watcher then takes the stranded partner) may split the pair. A machine
  // busy with other processes (ctest -j) preempts it often enough to split
  // most rounds of an attempt now and then (4 of 60 attempts under a
  // parallel ctest; weft 058a05c alike), so the bound must hold in one of
  // five attempts: a policy that splits pairs fails them all. Under a
  // sanitizer one round can outlast the watch period (50 us) by itself,
  // and the watcher then rightly takes the partner every round: there only
  // the exchange itself is checked.
#ifndef WEFT_TEST_SANITIZED
  long fewest = rounds;
  for (int attempt = 0; attempt < 5 && fewest > rounds / 20; ++attempt) {
    fewest = std::min(fewest, split_rounds(rt, rounds));
  }
  EXPECT_LE(fewest, rounds / 20) << "of " << rounds << " rounds, in the best of five attempts";
#else
  split_rounds(rt, rounds);
#endif
}

TEST_P(WakePlacement, SpawnedWorkSpreadsAtOnce) {
  // Spawns are independent work: idle workers take them from the deque at
  // once. Each fiber here spins until all have started, so the test ends
  // only if they run on different workers at the same time.
  const unsigned workers = GetParam();
  if (workers < 2) GTEST_SKIP() << "needs two workers";
  weft::runtime rt(weft::options{.workers = workers});
  std::atomic<unsigned> started{0};
  rt.block_on([&] {
    std::vector<weft::join_handle<std::thread::id>> spinners;
    for (unsigned i = 0; i < 2; ++i) {
      spinners.push_back(weft::spawn([&started] {
        started.fetch_add(1);
        while (started.load() < 2) {
        }
        return std::this_thread::get_id();
      }));
    }
    const auto first = spinners[0].join();
    EXPECT_NE(first, spinners[1].join());
  });
  EXPECT_EQ(started.load(), 2U);
}

TEST_P(WakePlacement, WokenFiberStrandedBehindABusyFiberIsTaken) {
  // `busy` wakes `woken` (into its worker's run-next slot) and then computes
  // without switching until `woken` has run. Its own worker cannot run it;
  // only the watcher, an idle worker, can take it. Waking several fills the
  // woken deque too, which the watcher shares by age.
  const unsigned workers = GetParam();
  if (workers < 2) GTEST_SKIP() << "needs an idle worker";
  constexpr int receivers = 8;
  weft::runtime rt(weft::options{.workers = workers});
  weft::channel<int> ch;
  std::atomic<int> ran{0};
  std::vector<weft::join_handle<void>> waiting;
  for (int i = 0; i < receivers; ++i) {
    waiting.push_back(rt.spawn([ch, &ran]() mutable {
      if (ch.recv()) ran.fetch_add(1);
    }));
  }
  weft::test::wait_until_parked(rt, receivers, weft::wait_kind::channel_recv);
  const std::uint64_t steals_before = rt.stats().steals;
  auto busy = rt.spawn([ch, &ran]() mutable {
    for (int i = 0; i < receivers; ++i) ch.send(i);  // receivers waiting: no park
    while (ran.load() < receivers) {
    }
  });
  busy.join();
  for (auto& w : waiting) w.join();
  EXPECT_EQ(ran.load(), receivers);
  EXPECT_GE(rt.stats().steals - steals_before, 1U);
}

TEST_P(WakePlacement, PingPongPairStarvesNoTimerNorOutsideWork) {
  // Two fibers that wake each other forever: every pick on their worker
  // could be the partner in the run-next slot. The fairness step must still
  // run a sleeper's timer, an outside spawn and a spawned fiber.
  weft::runtime rt(weft::options{.workers = GetParam()});
  std::atomic<bool> slept{false}, outside_ran{false}, spawned_ran{false};
  std::atomic<bool> pair_started{false};
  auto pair = rt.spawn([&] {
    weft::channel<int> ping, pong;
    auto echo = weft::spawn([ping, pong]() mutable {
      while (ping.recv()) pong.send(1);
    });
    auto sleeper = weft::spawn([&] {
      weft::this_fiber::sleep_for(std::chrono::milliseconds(1));
      slept.store(true);
    });
    auto other = weft::spawn([&] { spawned_ran.store(true); });
    pair_started.store(true);
    while (!slept.load() || !outside_ran.load() || !spawned_ran.load()) {
      ping.send(1);
      pong.recv();
    }
    ping.close();
    echo.join();
    sleeper.join();
    other.join();
  });
  while (!pair_started.load()) std::this_thread::yield();
  rt.spawn([&] { outside_ran.store(true); }).join();
  pair.join();
  EXPECT_TRUE(slept.load());
  EXPECT_TRUE(spawned_ran.load());
}

INSTANTIATE_TEST_SUITE_P(Workers, WakePlacement, ::testing::ValuesIn(weft::test::worker_counts),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

}  // namespace
