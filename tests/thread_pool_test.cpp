// thread_pool, future and blocking(): the drop-in pool's semantics,
// nested waits on a pool of one thread, many outside submitters, the
// std::future conversion, and blocking calls under load.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft::test::scaled;

TEST(ThreadPool, SubmitReturnsValuesAndExceptions) {
  weft::thread_pool pool(2);
  EXPECT_EQ(pool.size(), 2U);
  auto f = pool.submit([](int a, int b) { return a * b; }, 6, 7);
  EXPECT_TRUE(f.valid());
  EXPECT_EQ(f.get(), 42);
  EXPECT_FALSE(f.valid());
  EXPECT_THROW(f.get(), std::future_error);
  auto g = pool.enqueue([]() -> int { throw std::out_of_range("nope"); });
  EXPECT_THROW(g.get(), std::out_of_range);
  auto v = pool.submit([] {});
  v.wait();
  v.get();
}

TEST(ThreadPool, WaitForAndWaitUntil) {
  weft::thread_pool pool(1);
  std::atomic<bool> release{false};
  auto f = pool.submit([&release] {
    while (!release.load()) weft::this_fiber::sleep_for(100us);
    return 1;
  });
  EXPECT_EQ(f.wait_for(1ms), std::future_status::timeout);
  EXPECT_EQ(f.wait_until(std::chrono::system_clock::now() + 1ms), std::future_status::timeout);
  release.store(true);
  EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), 1);
}

std::int64_t nested_fib(weft::thread_pool& pool, int n) {
  if (n < 2) return n;
  auto left = pool.submit(nested_fib, std::ref(pool), n - 1);
  auto right = pool.submit(nested_fib, std::ref(pool), n - 2);
  return left.get() + right.get();  // a task waiting on tasks: parks, never deadlocks
}

TEST(ThreadPool, NestedWaitsOnAPoolOfOneThread) {
  weft::thread_pool pool(1);
  // Smaller under sanitizers (test_support.hpp).
  constexpr int n = weft::test::scaled(1000) == 1000 ? 18 : 12;
  constexpr std::int64_t expected = weft::test::fib_value(n);
  EXPECT_EQ(pool.submit(nested_fib, std::ref(pool), n).get(), expected);
}

TEST(ThreadPool, FourOutsideThreadsSubmitFiftyThousandEach) {
  weft::thread_pool pool(2);
  const std::size_t per_thread = scaled(50'000);
  std::atomic<std::size_t> ran{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i = 0; i < per_thread; ++i) {
        pool.detach([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
      }
    });
  }
  for (auto& t : threads) t.join();
  pool.wait();
  EXPECT_EQ(ran.load(), 4 * per_thread);
}

TEST(ThreadPool, WaitCoversTasksSubmittedByTasks) {
  weft::thread_pool pool(2);
  std::atomic<int> leaves{0};
  for (int i = 0; i < 10; ++i) {
    pool.detach([&pool, &leaves] {
      for (int j = 0; j < 10; ++j) {
        pool.detach([&leaves] {
          weft::this_fiber::sleep_for(100us);
          leaves.fetch_add(1);
        });
      }
    });
  }
  pool.wait();
  EXPECT_EQ(leaves.load(), 100);
  EXPECT_THROW(pool.submit([&pool] { pool.wait(); }).get(), std::logic_error);
}

// wait() counts tasks started by submitters and finished by workers on
// separate counters (detail/task_tally.hpp). Many short rounds of submit,
// wait, check, with two threads waiting at once: a wake-up lost between a
// last finish and a waiter's registration would hang a round; a wait that
// returned early would see a task unfinished.
class ThreadPoolRounds : public ::testing::TestWithParam<unsigned> {};

TEST_P(ThreadPoolRounds, EveryWaitSeesEveryTaskOfItsRoundFinished) {
  weft::thread_pool pool(GetParam());
  const int rounds = static_cast<int>(scaled(2'000));
  std::atomic<int> ran{0};
  for (int round = 1; round <= rounds; ++round) {
    const int tasks = 1 + round % 7;
    const int expected = ran.load() + tasks + 1;  // every earlier round has finished
    for (int i = 0; i < tasks; ++i) {
      pool.detach([&pool, &ran, i] {
        if (i == 0) pool.detach([&ran] { ran.fetch_add(1); });  // a subtask
        ran.fetch_add(1);
      });
    }
    std::thread second_waiter([&pool] { pool.wait(); });
    pool.wait();
    ASSERT_EQ(ran.load(), expected) << "round " << round;
    second_waiter.join();
  }
}

INSTANTIATE_TEST_SUITE_P(Workers, ThreadPoolRounds, ::testing::ValuesIn(weft::test::worker_counts),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

TEST(ThreadPool, DestructorFinishesQueuedTasks) {
  std::atomic<int> ran{0};
  {
    weft::thread_pool pool(1);
    for (int i = 0; i < 1000; ++i) pool.detach([&ran] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 1000);
}

TEST(ThreadPool, DestructorInACancelledFiberStillWaitsForItsTasks) {
  // A fiber owns a pool and is cancelled; cancellation is sticky, so the
  // destructor's wait would throw (and, noexcept, terminate) unless it is
  // shielded. It must instead wait for the task, which uses the pool.
  weft::runtime rt(weft::options{.workers = 1});
  std::atomic<bool> gate{false};
  std::atomic<bool> submitted{false};
  std::atomic<bool> task_finished{false};
  auto owner = rt.spawn([&] {
    {
      weft::thread_pool pool(1);
      pool.detach([&] {
        while (!gate.load()) weft::this_fiber::yield();
        task_finished.store(true);
      });
      submitted.store(true);
      EXPECT_THROW(weft::this_fiber::sleep_for(24h), weft::cancelled);
    }  // ~thread_pool: waits, cancelled or not
    return task_finished.load();
  });
  while (!submitted.load()) std::this_thread::yield();
  owner.cancel();
  // Open the gate only once the owner is parked in the destructor's wait.
  weft::test::wait_until_parked(rt, 1, weft::wait_kind::wait_group);
  gate.store(true);
  EXPECT_TRUE(owner.join());
}

TEST(ThreadPool, ConvertsToStdFuture) {
  weft::thread_pool pool(2);
  std::vector<std::future<int>> results;  // code written for std::future compiles unchanged
  for (int i = 0; i < 100; ++i) results.push_back(pool.enqueue([i] { return i * i; }));
  int sum = 0;
  for (auto& r : results) sum += r.get();
  EXPECT_EQ(sum, 328350);
  std::future<void> failing = pool.submit([] { throw std::runtime_error("x"); });
  EXPECT_THROW(failing.get(), std::runtime_error);
  auto ready = pool.submit([] { return 5; });
  ready.wait();
  std::future<int> converted_late = std::move(ready);  // already ready when converted
  EXPECT_EQ(converted_late.get(), 5);
}

TEST(ThreadPool, DetachedExceptionIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        weft::thread_pool pool(1);
        pool.detach([] { throw std::runtime_error("pool task failed"); });
        pool.wait();
      },
      "exited with an uncaught exception: pool task failed");
}

TEST(ThreadPool, TasksUseEveryWeftPrimitive) {
  weft::thread_pool pool(2);
  weft::channel<int> ch(4);
  auto producer = pool.submit([ch]() mutable {
    for (int i = 1; i <= 100; ++i) ch.send(i);
    ch.close();
  });
  auto consumer = pool.submit([ch]() mutable {
    int sum = 0;
    for (int v : ch) sum += v;
    return sum;
  });
  producer.get();
  EXPECT_EQ(consumer.get(), 5050);
  EXPECT_EQ(&pool.runtime(), pool.submit([] { return weft::runtime::current(); }).get());
}

// ---- blocking()

TEST(Blocking, FromAPlainThreadJustCalls) {
  const auto me = std::this_thread::get_id();
  EXPECT_EQ(weft::blocking([] { return std::this_thread::get_id(); }), me);
  EXPECT_THROW(weft::blocking([] { throw std::invalid_argument("x"); }), std::invalid_argument);
}

TEST(Blocking, RunsOffTheWorkerAndKeepsItFree) {
  // One worker: while one fiber sits in a blocking call (a real blocking
  // sleep of the thread), the worker keeps running other fibers.
  weft::runtime rt(weft::options{.workers = 1});
  std::atomic<bool> other_ran_meanwhile{false};
  std::atomic<bool> in_call{false};
  rt.block_on([&] {
    auto blocker = weft::spawn([&] {
      return weft::blocking([&] {
        in_call.store(true);
        // Block this (pool) thread until the other fiber has run.
        while (!other_ran_meanwhile.load()) std::this_thread::sleep_for(100us);
        return std::string("done");
      });
    });
    auto other = weft::spawn([&] {
      while (!in_call.load()) weft::this_fiber::yield();
      other_ran_meanwhile.store(true);
    });
    EXPECT_EQ(blocker.join(), "done");
    other.join();
  });
  EXPECT_TRUE(other_ran_meanwhile.load());
}

TEST(Blocking, ManyCallsUnderLoadWithOneWorker) {
  weft::runtime rt(weft::options{.workers = 1});
  const int calls = static_cast<int>(scaled(2'000));
  std::atomic<int> sum{0};
  rt.block_on([&] {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < calls; ++i) {
      hs.push_back(weft::spawn([&sum, i] {
        const int v = weft::blocking([i] {
          std::this_thread::sleep_for(std::chrono::microseconds(i % 3 * 20));
          return i;
        });
        sum.fetch_add(v);
      }));
    }
    for (auto& h : hs) h.join();
  });
  EXPECT_EQ(sum.load(), calls * (calls - 1) / 2);
}

TEST(Blocking, PropagatesExceptionsAndReferences) {
  weft::runtime rt(weft::options{.workers = 1});
  int target = 0;
  rt.block_on([&] {
    EXPECT_THROW(weft::blocking([] { throw std::runtime_error("io"); }), std::runtime_error);
    int& ref = weft::blocking([&target]() -> int& { return target; });
    EXPECT_EQ(&ref, &target);
  });
}

}  // namespace
