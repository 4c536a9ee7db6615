// parallel_for, parallel_reduce, parallel_invoke and task_group: coverage
// (every index exactly once), nesting, exceptions, uneven bodies.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using weft::test::scaled;

class Parallel : public ::testing::TestWithParam<unsigned> {
 protected:
  weft::runtime rt{weft::options{.workers = GetParam()}};
};

TEST_P(Parallel, ForCoversEveryIndexExactlyOnceForManyShapes) {
  struct shape {
    long first, last, grain;
  };
  const shape shapes[] = {{0, 0, 1},         {0, 1, 1},     {5, 6, 3},
                          {0, 10, 1},        {0, 1000, 1},  {-500, 500, 7},
                          {3, 10'003, 1000}, {0, 4097, 64}, {0, 100'000, 1}};
  for (const shape& s : shapes) {
    const long n = s.last - s.first;
    auto hits = std::make_unique<std::atomic<int>[]>(static_cast<std::size_t>(n > 0 ? n : 1));
    rt.block_on([&] {
      weft::parallel_for(s.first, s.last, s.grain,
                         [&](long i) { hits[static_cast<std::size_t>(i - s.first)].fetch_add(1); });
    });
    for (long i = 0; i < n; ++i) {
      ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 1)
          << "index " << s.first + i << " in [" << s.first << "," << s.last << ") grain "
          << s.grain;
    }
  }
}

TEST_P(Parallel, UnevenBodiesAndNesting) {
  const long outer = 64, inner = static_cast<long>(scaled(2'000));
  std::atomic<long> total{0};
  rt.block_on([&] {
    weft::parallel_for(0L, outer, [&](long i) {
      // Uneven: later rows much heavier; nested parallel_for inside the body.
      weft::parallel_for(0L, inner * (i % 8 + 1) / 8, [&](long) { total.fetch_add(1); });
    });
  });
  long expected = 0;
  for (long i = 0; i < outer; ++i) expected += inner * (i % 8 + 1) / 8;
  EXPECT_EQ(total.load(), expected);
}

TEST_P(Parallel, ReduceIsExactAndUsesInitOnce) {
  const long n = static_cast<long>(scaled(1'000'000));
  const long sum = rt.block_on([n] {
    return weft::parallel_reduce(
        0L, n, 100L, [](long i) { return i; }, [](long a, long b) { return a + b; });
  });
  EXPECT_EQ(sum, 100 + n * (n - 1) / 2);
  // Associative but not commutative: order is kept.
  const std::string s = rt.block_on([] {
    return weft::parallel_reduce(
        0, 26, std::string(">"), [](int i) { return std::string(1, static_cast<char>('a' + i)); },
        [](std::string a, const std::string& b) { return a + b; });
  });
  EXPECT_EQ(s, ">abcdefghijklmnopqrstuvwxyz");
  EXPECT_EQ(weft::parallel_reduce(
                5, 5, 7, [](int i) { return i; }, [](int a, int b) { return a + b; }),
            7);
}

TEST_P(Parallel, FirstExceptionPropagatesAfterAllPiecesFinish) {
  std::atomic<int> ran{0};
  EXPECT_THROW(rt.block_on([&] {
    weft::parallel_for(0, 10'000, [&](int i) {
      ran.fetch_add(1);
      if (i % 1000 == 999) throw std::runtime_error("bad index");
    });
  }),
               std::runtime_error);
  EXPECT_GT(ran.load(), 0);
  EXPECT_THROW(weft::parallel_reduce(
                   0, 100, 0,
                   [](int i) -> int {
                     if (i == 50) throw std::logic_error("map");
                     return i;
                   },
                   [](int a, int b) { return a + b; }),
               std::logic_error);
}

TEST_P(Parallel, InvokeRunsEveryCallable) {
  std::atomic<int> mask{0};
  rt.block_on([&] {
    weft::parallel_invoke([&] { mask.fetch_or(1); }, [&] { mask.fetch_or(2); },
                          [&] { mask.fetch_or(4); });
  });
  EXPECT_EQ(mask.load(), 7);
  EXPECT_THROW(
      rt.block_on([] { weft::parallel_invoke([] {}, [] { throw std::runtime_error("x"); }); }),
      std::runtime_error);
}

TEST_P(Parallel, TaskGroupWaitsAndRethrows) {
  std::atomic<int> done{0};
  rt.block_on([&] {
    weft::task_group g;
    for (int i = 0; i < 100; ++i) {
      g.spawn([&g, &done, i] {
        if (i % 10 == 0) g.spawn([&done] { done.fetch_add(1); });  // spawned by a task
        done.fetch_add(1);
      });
    }
    g.wait();
  });
  EXPECT_EQ(done.load(), 110);
  EXPECT_THROW(rt.block_on([] {
    weft::task_group g;
    g.spawn([] { throw std::invalid_argument("first"); });
    g.spawn([] {});
    g.wait();
  }),
               std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Workers, Parallel, ::testing::ValuesIn(weft::test::worker_counts),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

TEST(ParallelFromThread, UsesTheDefaultRuntimeAndRunsTinyRangesInline) {
  const auto me = std::this_thread::get_id();
  std::thread::id seen;
  weft::parallel_for(0, 1, [&](int) { seen = std::this_thread::get_id(); });
  EXPECT_EQ(seen, me);  // a range of 1 runs inline
  std::atomic<int> n{0};
  weft::parallel_for(0, 1000, [&](int) { n.fetch_add(1); });
  EXPECT_EQ(n.load(), 1000);
  EXPECT_THROW(weft::parallel_for(0, 10, 0, [](int) {}), std::invalid_argument);
  weft::task_group g;  // from a plain thread: tasks go to the default runtime
  g.spawn([&n] { n.fetch_add(1); });
  g.wait();
  EXPECT_EQ(n.load(), 1001);
}

}  // namespace
