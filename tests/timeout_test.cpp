// with_timeout (nesting, which cancellation wins, plain threads, inline
// children, generators) and stress tests that cancel fibers at random
// moments and count every value and unit: nothing is lost.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft::test::scaled;
using weft::test::wait_until_parked;

class Timeout : public ::testing::TestWithParam<unsigned> {
 protected:
  weft::runtime rt{weft::options{.workers = GetParam()}};
};

TEST_P(Timeout, ReturnsTheResultWhenInTime) {
  EXPECT_EQ(rt.block_on([] { return weft::with_timeout(1h, [] { return 5; }); }), 5);
  int x = 0;
  int& r =
      rt.block_on([&]() -> int& { return weft::with_timeout(1h, [&]() -> int& { return x; }); });
  EXPECT_EQ(&r, &x);
}

TEST_P(Timeout, AWaitThatOutlastsItThrowsTimeoutError) {
  weft::channel<int> never(0);
  rt.block_on([&] {
    EXPECT_THROW(weft::with_timeout(5ms, [&] { return never.recv(); }), weft::timeout_error);
    // The scope is over: later waits are not affected.
    weft::this_fiber::sleep_for(1ms);
    EXPECT_FALSE(weft::this_fiber::cancellation_requested());
  });
}

TEST_P(Timeout, ZeroMeansTheTimeIsAlreadyOut) {
  rt.block_on([] {
    EXPECT_EQ(weft::with_timeout(0ms, [] { return 1; }), 1);  // no wait: it completes
    EXPECT_THROW(weft::with_timeout(0ms, [] { weft::this_fiber::sleep_for(1h); }),
                 weft::timeout_error);
  });
}

TEST_P(Timeout, InnerTimeoutIsCaughtByTheInnerScope) {
  weft::channel<int> never(0);
  const int v = rt.block_on([&] {
    return weft::with_timeout(1h, [&] {
      try {
        weft::with_timeout(1ms, [&] { (void)never.recv(); });
      } catch (const weft::timeout_error&) {
        return 2;
      }
      return 0;
    });
  });
  EXPECT_EQ(v, 2);
}

TEST_P(Timeout, OuterTimeoutPassesThroughTheInnerScope) {
  weft::channel<int> never(0);
  rt.block_on([&] {
    bool inner_saw_cancelled = false;
    EXPECT_THROW(weft::with_timeout(1ms,
                                    [&] {
                                      try {
                                        weft::with_timeout(1h, [&] { (void)never.recv(); });
                                      } catch (const weft::cancelled&) {
                                        inner_saw_cancelled = true;  // not a timeout_error
                                        throw;
                                      }
                                    }),
                 weft::timeout_error);
    EXPECT_TRUE(inner_saw_cancelled);
  });
}

TEST_P(Timeout, ACancelOfTheFiberWinsOverATimeout) {
  weft::channel<int> never(0);
  auto h = rt.spawn([&] { weft::with_timeout(1h, [&] { (void)never.recv(); }); });
  wait_until_parked(rt, 1, weft::wait_kind::channel_recv);
  h.cancel();
  EXPECT_THROW(h.join(), weft::cancelled);
}

TEST_P(Timeout, ShieldInsideATimeoutWaitsToTheEnd) {
  weft::channel<int> later(0);
  // The time is out before the wait starts: unshielded, recv would throw.
  auto receiver = rt.spawn([&] {
    return weft::with_timeout(0ms, [&] {
      weft::cancellation_shield shield;
      return later.recv().value();
    });
  });
  wait_until_parked(rt, 1, weft::wait_kind::channel_recv);
  rt.block_on([&] { later.send(4); });
  EXPECT_EQ(receiver.join(), 4);
}

TEST_P(Timeout, FromAPlainThread) {
  weft::channel<int> never(0);
  EXPECT_THROW(weft::with_timeout(2ms, [&] { (void)never.recv(); }), weft::timeout_error);
  EXPECT_EQ(weft::with_timeout(1h, [] { return 3; }), 3);
}

TEST_P(Timeout, ReachesAChildRunningInlineInTheJoin) {
  weft::channel<int> never(0);
  rt.block_on([&] {
    EXPECT_THROW(weft::with_timeout(2ms,
                                    [&] {
                                      weft::task_group g;
                                      g.spawn([&] { (void)never.recv(); });
                                      g.wait();  // may run the task inline, on this stack
                                    }),
                 weft::timeout_error);
  });
  EXPECT_EQ(rt.stats().alive, 0U);
}

TEST_P(Timeout, ReachesAGeneratorBodyThatWaits) {
  weft::channel<int> slow(0);
  rt.block_on([&] {
    weft::generator<int> g([&](weft::yield_to<int>& yield) {
      yield(1);
      yield(slow.recv().value_or(0));  // waits forever
    });
    auto it = g.begin();
    EXPECT_EQ(*it, 1);
    EXPECT_THROW(weft::with_timeout(2ms, [&] { ++it; }), weft::timeout_error);
  });
}

// ---- nothing lost, under random cancellations

TEST_P(Timeout, ChannelsConserveEveryValueUnderCancellation) {
  const int producers = 4;
  const int consumers = 4;
  const int per_producer = static_cast<int>(scaled(2000));
  weft::channel<std::int64_t> ch(2);
  std::atomic<std::int64_t> sent_sum{0};
  std::atomic<std::int64_t> received_sum{0};
  std::atomic<int> cancellations{0};
  std::vector<weft::join_handle<void>> workers;
  for (int p = 0; p < producers; ++p) {
    workers.push_back(rt.spawn([&, p] {
      for (int i = 1; i <= per_producer; ++i) {
        const std::int64_t v = std::int64_t{p} * 1'000'000 + i;
        try {
          weft::with_timeout(std::chrono::microseconds(50 + (i % 7) * 20), [&] { ch.send(v); });
          sent_sum += v;  // send returned: delivered
        } catch (const weft::timeout_error&) {
          ++cancellations;  // not delivered
        }
      }
    }));
  }
  std::atomic<int> producers_left{producers};
  for (int c = 0; c < consumers; ++c) {
    workers.push_back(rt.spawn([&, c] {
      int i = 0;
      for (;;) {
        std::optional<std::int64_t> v;
        try {
          v = weft::with_timeout(std::chrono::microseconds(30 + ((i++ + c) % 5) * 25),
                                 [&] { return ch.recv(); });
        } catch (const weft::timeout_error&) {
          ++cancellations;  // took nothing
          continue;
        }
        if (!v) return;  // closed and drained
        received_sum += *v;
      }
    }));
  }
  for (int p = 0; p < producers; ++p) workers[static_cast<std::size_t>(p)].join();
  ch.close();
  for (std::size_t c = producers; c < workers.size(); ++c) workers[c].join();
  EXPECT_EQ(sent_sum.load(), received_sum.load());
  EXPECT_GT(sent_sum.load(), 0);
}

TEST_P(Timeout, MutexAndSemaphoreConserveUnitsUnderCancellation) {
  weft::mutex m;
  weft::semaphore units(3);
  std::int64_t guarded = 0;  // guarded by m
  std::atomic<std::int64_t> locked_count{0};
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::vector<weft::join_handle<void>> fibers;
  const int rounds = static_cast<int>(scaled(3000));
  for (int f = 0; f < 8; ++f) {
    fibers.push_back(rt.spawn([&, f] {
      for (int i = 0; i < rounds; ++i) {
        try {
          weft::with_timeout(std::chrono::microseconds(20 + ((i + f) % 4) * 30), [&] {
            std::lock_guard<weft::mutex> hold(m);
            ++guarded;
            ++locked_count;
            if ((i & 7) == 0) weft::this_fiber::yield();
          });
        } catch (const weft::timeout_error&) {
        }
        try {
          weft::with_timeout(std::chrono::microseconds(20 + ((i + f) % 3) * 30), [&] {
            units.acquire();
            const int now = ++inside;
            int seen = max_inside.load();
            while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
            }
            weft::this_fiber::yield();
            --inside;
            units.release();
          });
        } catch (const weft::timeout_error&) {
        }
      }
    }));
  }
  for (auto& h : fibers) h.join();
  EXPECT_EQ(guarded, locked_count.load());  // never two holders at once
  EXPECT_LE(max_inside.load(), 3);
  // Every unit is back: three acquire at once, a fourth cannot.
  int taken = 0;
  while (units.try_acquire()) ++taken;
  EXPECT_EQ(taken, 3);
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

TEST_P(Timeout, CancelsAtRandomMomentsLeaveNoFiberBehind) {
  weft::channel<int> ch(1);
  std::mt19937 rng(GetParam());
  const int n = static_cast<int>(scaled(500));
  std::atomic<std::int64_t> sent{0};
  std::atomic<std::int64_t> received{0};
  std::int64_t leftover = 0;
  for (int round = 0; round < n; ++round) {
    auto a = rt.spawn([&] {
      ch.send(1);
      ++sent;
    });
    auto b = rt.spawn([&] {
      try {  // a may never send: give up after a while (taking nothing)
        if (weft::with_timeout(200us, [&] { return ch.recv(); })) ++received;
      } catch (const weft::timeout_error&) {
      }
    });
    if (rng() & 1) a.cancel();
    if (rng() & 1) b.cancel();
    try {
      b.join();
    } catch (const weft::cancelled&) {
    }
    // A sender still waiting for room gets it: drain what b did not take.
    int v = 0;
    while (!a.done()) {
      if (ch.try_recv(v) == weft::channel_status::ok) leftover += v;
    }
    try {
      a.join();
    } catch (const weft::cancelled&) {
    }
  }
  int v = 0;
  while (ch.try_recv(v) == weft::channel_status::ok) leftover += v;
  EXPECT_EQ(sent.load(), received.load() + leftover);
  EXPECT_EQ(rt.stats().alive, 0U);
}

INSTANTIATE_TEST_SUITE_P(Workers, Timeout, ::testing::ValuesIn(weft::test::worker_counts),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

}  // namespace
