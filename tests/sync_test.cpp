// mutex, shared_mutex, condition_variable, semaphore, latch, barrier,
// wait_group: semantics, misuse, timeouts, and stress with 1/2/4/8 workers
// (fibers and plain threads mixed), with exact conservation checks.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft::test::scaled;

// Runs `body(i)` on `fibers` fibers of `rt` and `threads` plain threads at
// once; returns when all are done.
template <class F>
void run_mixed(weft::runtime& rt, int fibers, int threads, F body) {
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < fibers; ++i) hs.push_back(rt.spawn(body, i));
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; ++i) ts.emplace_back(body, fibers + i);
  for (auto& h : hs) h.join();
  for (auto& t : ts) t.join();
}

class Sync : public ::testing::TestWithParam<unsigned> {
 protected:
  weft::runtime rt{weft::options{.workers = GetParam()}};
};

// ---- mutex

TEST_P(Sync, MutexCountsExactlyUnderContention) {
  weft::mutex m;
  long counter = 0;  // plain: the mutex is what makes this safe (TSan checks it)
  const int iters = static_cast<int>(scaled(20'000));
  run_mixed(rt, 16, 2, [&](int) {
    for (int i = 0; i < iters; ++i) {
      std::lock_guard<weft::mutex> hold(m);
      ++counter;
    }
  });
  EXPECT_EQ(counter, 18L * iters);
}

TEST_P(Sync, MutexWaitersAreServedWhileHogsRelock) {
  // Two hogs re-lock in a loop and hold the lock across a switch, so the
  // others queue. An unlock wakes one waiter and then no other until it has
  // retried (the `woken` bit); a waiter that keeps losing asks for a
  // hand-off. Neither rule may leave a fiber or a thread waiting forever.
  weft::mutex m;
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  constexpr int waiters = 8;
  const int locks = static_cast<int>(scaled(200));
  std::vector<weft::join_handle<void>> hogs;
  for (int i = 0; i < 2; ++i) {
    hogs.push_back(rt.spawn([&] {
      while (!stop.load()) {
        std::lock_guard<weft::mutex> hold(m);
        weft::this_fiber::yield();
      }
    }));
  }
  run_mixed(rt, waiters, 1, [&](int) {
    for (int k = 0; k < locks; ++k) std::lock_guard<weft::mutex> hold(m);
    served.fetch_add(1);
  });
  stop.store(true);
  for (auto& h : hogs) h.join();
  EXPECT_EQ(served.load(), waiters + 1);
}

TEST_P(Sync, MutexWorksWithScopedLockAndUniqueLock) {
  weft::mutex a, b;
  int shared = 0;
  run_mixed(rt, 8, 1, [&](int i) {
    for (int k = 0; k < 200; ++k) {
      if (i % 2) {
        std::scoped_lock both(a, b);
        ++shared;
      } else {
        std::unique_lock<weft::mutex> la(a, std::defer_lock);
        std::unique_lock<weft::mutex> lb(b, std::defer_lock);
        std::lock(lb, la);
        ++shared;
      }
    }
  });
  EXPECT_EQ(shared, 9 * 200);
}

TEST_P(Sync, MutexTimedLockTimesOutAndLeavesNoWaiter) {
  weft::mutex m;
  m.lock();
  auto h = rt.spawn([&m] {
    const auto start = std::chrono::steady_clock::now();
    const bool got = m.try_lock_for(5ms);
    return !got && std::chrono::steady_clock::now() - start >= 5ms;
  });
  EXPECT_TRUE(h.join());
  std::thread([&m] {  // thread side (the holder itself would get resource_deadlock_would_occur)
    EXPECT_FALSE(m.try_lock_until(std::chrono::steady_clock::now() + 1ms));
  })
      .join();
  m.unlock();
  // The timed-out waiters left nothing behind: the fast paths work again.
  EXPECT_TRUE(m.try_lock());
  m.unlock();
  EXPECT_TRUE(rt.block_on([&m] {
    const bool got = m.try_lock_for(1s);
    if (got) m.unlock();  // the holder unlocks
    return got;
  }));
}

TEST_P(Sync, TimedLockRacingUnlockNeverLosesOrDoublesTheLock) {
  // Many short timed waits against frequent unlocks: the timeout and the
  // hand-off race for the same waiter; exactly one must win each time.
  weft::mutex m;
  std::atomic<int> inside{0};
  long acquired = 0;
  const int rounds = static_cast<int>(scaled(3'000));
  run_mixed(rt, 8, 1, [&](int) {
    for (int k = 0; k < rounds; ++k) {
      if (m.try_lock_for(std::chrono::microseconds(k % 50))) {
        EXPECT_EQ(inside.fetch_add(1), 0);
        ++acquired;
        inside.fetch_sub(1);
        m.unlock();
      }
    }
  });
  EXPECT_GT(acquired, 0);
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

TEST(SyncOneWorker, TenThousandFibersParkedOnOneMutexAllGetIt) {
  weft::runtime rt(weft::options{.workers = 1});
  weft::mutex m;
  const int waiters = static_cast<int>(scaled(10'000));
  int got = 0;
  rt.block_on([&] {
    m.lock();
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < waiters; ++i) {
      hs.push_back(weft::spawn([&] {
        std::lock_guard<weft::mutex> hold(m);
        ++got;
      }));
    }
    // The holder sleeps while every waiter parks on the mutex.
    while (rt.stats().parks < static_cast<std::uint64_t>(waiters)) weft::this_fiber::sleep_for(1ms);
    m.unlock();
    for (auto& h : hs) h.join();
  });
  EXPECT_EQ(got, waiters);
}

TEST(SyncOneWorker, MutexWaitReasonIsVisible) {
  weft::runtime rt(weft::options{.workers = 1});
  weft::mutex m;
  m.lock();
  auto h = rt.spawn(weft::spawn_options{.name = "blocked"},
                    [&m] { std::lock_guard<weft::mutex> hold(m); });
  weft::fiber_info info;
  for (;;) {
    for (const auto& f : rt.fibers()) {
      if (f.name == "blocked") info = f;
    }
    if (info.state == weft::fiber_state::parked) break;
    std::this_thread::yield();
  }
  EXPECT_EQ(info.waiting_on, weft::wait_kind::mutex);
  EXPECT_EQ(info.wait_object, &m);
  m.unlock();
  h.join();
}

TEST(SyncOneWorker, NoWaiterStarvesOnAContendedMutex) {
  // One fiber re-locks in a tight loop; a waiter must still get the lock
  // (bounded bypass), even on a single worker.
  weft::runtime rt(weft::options{.workers = 1});
  weft::mutex m;
  std::atomic<bool> waiter_done{false};
  rt.block_on([&] {
    auto hog = weft::spawn([&] {
      while (!waiter_done.load()) {
        std::lock_guard<weft::mutex> hold(m);
        weft::this_fiber::yield();  // hold it across a switch, so the waiter queues
      }
    });
    auto waiter = weft::spawn([&] {
      std::lock_guard<weft::mutex> hold(m);
      waiter_done.store(true);
    });
    waiter.join();
    hog.join();
  });
  EXPECT_TRUE(waiter_done.load());
}

#ifdef WEFT_DEBUG_CHECKS
TEST(SyncDeathTest, UnlockByANonHolderIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        weft::mutex m;
        m.lock();
        std::thread([&m] { m.unlock(); }).join();
      },
      "unlock of a mutex held by another fiber or thread");
}
#endif

TEST(SyncDeathTest, UnlockOfAnUnlockedMutexIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        weft::mutex m;
        m.unlock();
      },
      "unlock of an unlocked mutex");
}

// ---- shared_mutex

TEST_P(Sync, SharedMutexReadersShareWritersExclude) {
  weft::shared_mutex sm;
  std::atomic<int> readers{0}, writers{0};
  std::atomic<int> max_readers{0};
  long value = 0;
  const int iters = static_cast<int>(scaled(2'000));
  run_mixed(rt, 12, 2, [&](int i) {
    for (int k = 0; k < iters; ++k) {
      if ((i + k) % 4 == 0) {
        std::unique_lock<weft::shared_mutex> w(sm);
        EXPECT_EQ(writers.fetch_add(1), 0);
        EXPECT_EQ(readers.load(), 0);
        ++value;
        writers.fetch_sub(1);
      } else {
        std::shared_lock<weft::shared_mutex> r(sm);
        const int now = readers.fetch_add(1) + 1;
        int seen = max_readers.load();
        while (now > seen && !max_readers.compare_exchange_weak(seen, now)) {
        }
        EXPECT_EQ(writers.load(), 0);
        (void)value;
        readers.fetch_sub(1);
      }
    }
  });
  long writes = 0;
  for (int i = 0; i < 14; ++i) {
    for (int k = 0; k < iters; ++k) writes += (i + k) % 4 == 0;
  }
  EXPECT_EQ(value, writes);
}

TEST(SharedMutex, TryLocksAndMisuse) {
  weft::shared_mutex sm;
  EXPECT_TRUE(sm.try_lock_shared());
  EXPECT_TRUE(sm.try_lock_shared());
  EXPECT_FALSE(sm.try_lock());
  sm.unlock_shared();
  sm.unlock_shared();
  EXPECT_THROW(sm.unlock_shared(), std::logic_error);
  EXPECT_THROW(sm.unlock(), std::logic_error);
  EXPECT_TRUE(sm.try_lock());
  EXPECT_FALSE(sm.try_lock_shared());
  sm.unlock();
}

TEST(SharedMutex, QueuedWriterHoldsBackNewReaders) {
  weft::runtime rt(weft::options{.workers = 2});
  weft::shared_mutex sm;
  sm.lock_shared();  // a reader holds it
  std::atomic<bool> writer_in{false};
  auto writer = rt.spawn([&] {
    sm.lock();
    writer_in.store(true);
    sm.unlock();
  });
  // Wait until the writer is queued (parked), then a new reader must not get in.
  for (;;) {
    bool parked = false;
    for (const auto& f : rt.fibers()) parked |= f.waiting_on == weft::wait_kind::shared_mutex;
    if (parked) break;
    std::this_thread::yield();
  }
  EXPECT_FALSE(sm.try_lock_shared());
  sm.unlock_shared();
  writer.join();
  EXPECT_TRUE(writer_in.load());
}

// ---- condition_variable

TEST_P(Sync, ConditionVariableProducerConsumerConservesItems) {
  weft::mutex m;
  weft::condition_variable not_empty;
  std::vector<int> queue;
  long consumed_sum = 0;
  int consumed = 0;
  const int per_producer = static_cast<int>(scaled(5'000));
  constexpr int producers = 4, consumers = 4;
  std::vector<weft::join_handle<void>> hs;
  for (int c = 0; c < consumers; ++c) {
    hs.push_back(rt.spawn([&] {
      for (;;) {
        std::unique_lock<weft::mutex> lk(m);
        not_empty.wait(lk, [&] { return !queue.empty(); });
        const int v = queue.back();
        queue.pop_back();
        if (v < 0) return;  // poison pill
        consumed_sum += v;
        ++consumed;
      }
    }));
  }
  std::vector<std::thread> ts;
  for (int p = 0; p < producers; ++p) {
    auto produce = [&] {
      for (int i = 1; i <= per_producer; ++i) {
        {
          std::lock_guard<weft::mutex> hold(m);
          queue.push_back(i);
        }
        not_empty.notify_one();
      }
    };
    if (p % 2) {
      ts.emplace_back(produce);
    } else {
      hs.push_back(rt.spawn(produce));
    }
  }
  for (auto& t : ts) t.join();
  for (std::size_t i = consumers; i < hs.size(); ++i) hs[i].join();
  {
    std::lock_guard<weft::mutex> hold(m);
    for (int c = 0; c < consumers; ++c) queue.insert(queue.begin(), -1);
  }
  not_empty.notify_all();
  for (int c = 0; c < consumers; ++c) hs[static_cast<std::size_t>(c)].join();
  EXPECT_EQ(consumed, producers * per_producer);
  EXPECT_EQ(consumed_sum, static_cast<long>(producers) * per_producer * (per_producer + 1) / 2);
}

TEST_P(Sync, ConditionVariableTimeouts) {
  weft::mutex m;
  weft::condition_variable cv;
  auto h = rt.spawn([&] {
    std::unique_lock<weft::mutex> lk(m);
    const auto status = cv.wait_for(lk, 2ms);
    const bool pred = cv.wait_for(lk, 1ms, [] { return false; });
    return status == std::cv_status::timeout && !pred && lk.owns_lock();
  });
  EXPECT_TRUE(h.join());
  std::unique_lock<weft::mutex> lk(m);
  EXPECT_EQ(cv.wait_until(lk, std::chrono::system_clock::now() + 1ms), std::cv_status::timeout);
}

TEST_P(Sync, NotifyRacingTimeoutWakesExactlyOnce) {
  // The lost-wake-up / double-wake window, forced by many short cycles: a
  // waiter with a tiny timeout races a notifier; whatever wins, the waiter
  // returns once, holding the lock, and the notifier never blocks.
  weft::mutex m;
  weft::condition_variable cv;
  const int rounds = static_cast<int>(scaled(5'000));
  std::atomic<int> woken{0}, timed_out{0};
  auto waiter = rt.spawn([&] {
    for (int i = 0; i < rounds; ++i) {
      std::unique_lock<weft::mutex> lk(m);
      if (cv.wait_for(lk, std::chrono::microseconds(i % 20)) == std::cv_status::timeout) {
        timed_out.fetch_add(1);
      } else {
        woken.fetch_add(1);
      }
    }
  });
  std::atomic<bool> stop{false};
  std::thread notifier([&] {
    while (!stop.load()) cv.notify_one();
  });
  waiter.join();
  stop.store(true);
  notifier.join();
  EXPECT_EQ(woken.load() + timed_out.load(), rounds);
}

// ---- semaphore

TEST_P(Sync, SemaphoreBoundsConcurrencyAndConservesUnits) {
  weft::semaphore sem(3);
  std::atomic<int> inside{0}, max_inside{0};
  const int iters = static_cast<int>(scaled(3'000));
  run_mixed(rt, 12, 2, [&](int) {
    for (int k = 0; k < iters; ++k) {
      sem.acquire();
      const int now = inside.fetch_add(1) + 1;
      int seen = max_inside.load();
      while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
      }
      if (k % 16 == 0) weft::this_fiber::yield();
      inside.fetch_sub(1);
      sem.release();
    }
  });
  EXPECT_LE(max_inside.load(), 3);
  // All three units are back.
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_FALSE(sem.try_acquire());
}

TEST(Semaphore, TimeoutsAndBadArguments) {
  EXPECT_THROW(weft::semaphore(-1), std::invalid_argument);
  weft::semaphore sem(0);
  EXPECT_THROW(sem.release(-1), std::invalid_argument);
  EXPECT_FALSE(sem.try_acquire_for(1ms));
  weft::runtime rt(weft::options{.workers = 1});
  EXPECT_FALSE(rt.block_on([&sem] { return sem.try_acquire_for(1ms); }));
  sem.release(2);
  EXPECT_TRUE(rt.block_on([&sem] { return sem.try_acquire_for(1s); }));
  EXPECT_TRUE(sem.try_acquire_until(std::chrono::steady_clock::now()));
  EXPECT_FALSE(sem.try_acquire());
}

TEST(Semaphore, ReleaseServesWaitersInOrder) {
  weft::runtime rt(weft::options{.workers = 1});
  weft::semaphore sem(0);
  std::vector<int> order;
  rt.block_on([&] {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 5; ++i) {
      hs.push_back(weft::spawn([&, i] {
        sem.acquire();
        order.push_back(i);
      }));
      while (rt.stats().parks < static_cast<std::uint64_t>(i + 1)) weft::this_fiber::yield();
    }
    // One unit at a time: each goes to the longest-waiting fiber.
    for (std::size_t k = 0; k < 5; ++k) {
      sem.release(1);
      while (order.size() <= k) weft::this_fiber::yield();
    }
    for (auto& h : hs) h.join();
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_P(Sync, SemaphoreTimeoutsRacingReleasesConserveUnits) {
  // Waiters time out while releases arrive: a timed-out waiter's unit count
  // must not be lost or doubled, and a release must never spin on a waiter
  // that already left (even on one worker).
  weft::semaphore sem(0);
  const int rounds = static_cast<int>(scaled(2'000));
  std::atomic<int> acquired{0};
  std::atomic<bool> stop{false};
  auto releaser = rt.spawn([&] {
    for (int i = 0; i < rounds; ++i) {
      sem.release();
      if (i % 8 == 0) weft::this_fiber::yield();
    }
    stop.store(true);
  });
  run_mixed(rt, 4, 1, [&](int) {
    while (!stop.load()) {
      if (sem.try_acquire_for(std::chrono::microseconds(20))) acquired.fetch_add(1);
    }
  });
  releaser.join();
  int left = 0;
  while (sem.try_acquire()) ++left;
  EXPECT_EQ(acquired.load() + left, rounds);
}

TEST_P(Sync, ObjectsMayBeDestroyedRightAfterTheWaitReturns) {
  // The idiom "wait, then destroy" (ASan checks no call is still inside).
  const int rounds = static_cast<int>(scaled(500));
  const int completed = rt.block_on([rounds] {
    int finished = 0;
    for (int i = 0; i < rounds; ++i) {
      auto* sem = new weft::semaphore(0);
      auto* done = new weft::latch(1);
      auto* wg = new weft::wait_group();
      wg->add(1);
      auto signaller = weft::spawn([sem, done, wg] {
        sem->release();
        done->count_down();
        wg->done();
      });
      sem->acquire();
      delete sem;
      while (!done->try_wait()) weft::this_fiber::yield();
      delete done;
      wg->wait();
      delete wg;
      signaller.join();
      ++finished;
    }
    return finished;
  });
  EXPECT_EQ(completed, rounds);  // and, under ASan, no use-after-free
}

TEST(ConditionVariable, WaitWithoutTheLockThrowsAndLeavesNoWaiter) {
  weft::mutex m;
  weft::condition_variable cv;
  std::unique_lock<weft::mutex> not_held(m, std::defer_lock);
  EXPECT_THROW(cv.wait(not_held), std::system_error);
  cv.notify_one();  // must not find (or hang on) a stale waiter
  cv.notify_all();
  std::unique_lock<weft::mutex> held(m);
  EXPECT_EQ(cv.wait_for(held, std::chrono::microseconds(10)), std::cv_status::timeout);
}

// ---- latch, barrier, wait_group

TEST_P(Sync, LatchReleasesEveryWaiter) {
  weft::latch done(4);
  std::atomic<int> passed{0};
  run_mixed(rt, 6, 2, [&](int i) {
    if (i < 4) done.count_down();
    done.wait();
    passed.fetch_add(1);
  });
  EXPECT_EQ(passed.load(), 8);
  EXPECT_TRUE(done.try_wait());
  EXPECT_THROW(done.count_down(), std::logic_error);
  EXPECT_THROW(weft::latch(-1), std::invalid_argument);
}

TEST_P(Sync, BarrierPhasesStayInStep) {
  constexpr int participants = 6;
  const int phases = static_cast<int>(scaled(300));
  weft::barrier sync(participants);
  std::atomic<int> arrived[2] = {0, 0};
  std::atomic<bool> out_of_step{false};
  run_mixed(rt, participants - 2, 2, [&](int) {
    for (int p = 0; p < phases; ++p) {
      arrived[p % 2].fetch_add(1);
      sync.arrive_and_wait();
      // Everyone arrived for phase p before anyone passes it.
      if (arrived[p % 2].load() < participants * (p / 2 + 1)) out_of_step.store(true);
    }
  });
  EXPECT_FALSE(out_of_step.load());
}

TEST(Barrier, ArriveAndDropShrinksLaterPhases) {
  weft::runtime rt(weft::options{.workers = 2});
  weft::barrier sync(3);
  auto leaver = rt.spawn([&] { sync.arrive_and_drop(); });
  auto a = rt.spawn([&] {
    sync.arrive_and_wait();
    sync.arrive_and_wait();  // phase 2 needs only two
  });
  sync.arrive_and_wait();
  sync.arrive_and_wait();
  a.join();
  leaver.join();
  EXPECT_THROW(weft::barrier(-1), std::invalid_argument);
}

TEST_P(Sync, WaitGroupWaitsForEveryTask) {
  weft::wait_group wg;
  std::atomic<int> finished{0};
  const int tasks = static_cast<int>(scaled(2'000));
  wg.add(tasks);
  for (int i = 0; i < tasks; ++i) {
    rt.spawn([&] {
        weft::this_fiber::yield();
        finished.fetch_add(1);
        wg.done();
      }).detach();
  }
  std::thread other_waiter([&] { wg.wait(); });
  wg.wait();
  EXPECT_EQ(finished.load(), tasks);
  other_waiter.join();
  wg.wait();  // zero: returns at once
  EXPECT_THROW(wg.done(), std::logic_error);
  EXPECT_THROW(wg.add(-1), std::logic_error);
  wg.add(1);  // reusable after the failed calls changed nothing
  wg.done();
  wg.wait();
}

INSTANTIATE_TEST_SUITE_P(Workers, Sync, ::testing::ValuesIn(weft::test::worker_counts),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

}  // namespace
