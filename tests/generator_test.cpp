// weft::generator<T> (include/weft/generator.hpp): laziness, nested yields,
// exceptions, unwinding on destruction, move-only values, plain threads
// and fibers (whose bodies may wait), a consumer that changes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

static_assert(std::ranges::input_range<weft::generator<int>>);

weft::generator<int> count_to(int n, std::atomic<int>* produced = nullptr) {
  return weft::generator<int>([n, produced](weft::yield_to<int>& yield) {
    for (int i = 1; i <= n; ++i) {
      if (produced) produced->fetch_add(1);
      yield(i);
    }
  });
}

TEST(Generator, IsLazyAndEndsWhenTheBodyReturns) {
  std::atomic<int> produced{0};
  auto g = count_to(3, &produced);
  EXPECT_EQ(produced.load(), 0);  // nothing runs before a value is asked for
  EXPECT_EQ(g.next(), 1);
  EXPECT_EQ(produced.load(), 1);
  EXPECT_EQ(g.next(), 2);
  EXPECT_EQ(g.next(), 3);
  EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_EQ(produced.load(), 3);
}

TEST(Generator, IsAnInputRange) {
  int sum = 0;
  for (const int v : count_to(100)) sum += v;
  EXPECT_EQ(sum, 5050);
  std::vector<int> evens;
  for (const int v : count_to(10) | std::views::filter([](int x) { return x % 2 == 0; })) {
    evens.push_back(v);
  }
  EXPECT_EQ(evens, (std::vector<int>{2, 4, 6, 8, 10}));
}

struct tree {
  int value;
  std::vector<tree> children;
};

// Yields from every depth of the recursion: what a stackless coroutine cannot.
void walk(const tree& t, weft::yield_to<int>& yield) {
  yield(t.value);
  for (const tree& c : t.children) walk(c, yield);
}

TEST(Generator, YieldsFromNestedCalls) {
  const tree t{1, {{2, {{3, {}}, {4, {}}}}, {5, {{6, {{7, {}}}}}}}};
  weft::generator<int> g([&t](weft::yield_to<int>& yield) { walk(t, yield); });
  std::vector<int> order;
  for (const int v : g) order.push_back(v);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5, 6, 7}));
}

TEST(Generator, ExceptionsReachTheConsumer) {
  weft::generator<int> g([](weft::yield_to<int>& yield) {
    yield(1);
    throw std::runtime_error("from the body");
  });
  EXPECT_EQ(g.next(), 1);
  try {
    (void)g.next();
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "from the body");
  }
  EXPECT_EQ(g.next(), std::nullopt);  // the body is over
  weft::generator<int> at_start([](weft::yield_to<int>&) { throw std::logic_error("first"); });
  EXPECT_THROW((void)at_start.begin(), std::logic_error);
}

TEST(Generator, DestroyingAnUnfinishedGeneratorUnwindsItsBody) {
  int destroyed = 0;
  {
    struct counted {
      int& n;
      ~counted() { ++n; }
    };
    weft::generator<int> g([&destroyed](weft::yield_to<int>& yield) {
      const counted outer{destroyed};
      for (int i = 0;; ++i) {
        const counted inner{destroyed};
        yield(i);
      }
    });
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.next(), 1);
    EXPECT_EQ(destroyed, 1);  // the first round's `inner`
  }
  EXPECT_EQ(destroyed, 3);  // the suspended round's `inner` and `outer`
  weft::generator<int> never_started(
      [](weft::yield_to<int>&) { ADD_FAILURE() << "a generator never resumed ran"; });
}

TEST(Generator, MoveOnlyValuesAndMovedGenerators) {
  weft::generator<std::unique_ptr<int>> g([](weft::yield_to<std::unique_ptr<int>>& yield) {
    for (int i = 0; i < 3; ++i) yield(std::make_unique<int>(i));
  });
  std::optional<std::unique_ptr<int>> first = g.next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(**first, 0);
  weft::generator<std::unique_ptr<int>> moved = std::move(g);
  int sum = 0;
  std::thread([&moved, &sum] {  // another thread takes over as the consumer
    while (auto v = moved.next()) sum += **v;
  })
      .join();
  EXPECT_EQ(sum, 1 + 2);
}

// Yields from inside a catch block, then rethrows there and yields the
// message: the body's exception state must survive its yields.
void yield_inside_a_catch(weft::yield_to<std::string>& yield) {
  try {
    throw std::runtime_error("body's");
  } catch (const std::exception&) {
    yield("inside the body's catch");
    // Still the body's exception, whatever the consumer caught meanwhile.
    try {
      throw;
    } catch (const std::runtime_error& e) {
      yield(e.what());
      yield("still inside");
    }
  }
}

TEST(Generator, BodyAndConsumerKeepTheirCaughtExceptions) {
  weft::generator<std::string> g(&yield_inside_a_catch);
  try {
    throw std::logic_error("consumer's");
  } catch (const std::logic_error&) {
    EXPECT_EQ(g.next(), "inside the body's catch");
    EXPECT_EQ(g.next(), "body's");
    try {
      throw;
    } catch (const std::logic_error& e) {
      EXPECT_STREQ(e.what(), "consumer's");
    }
  }
}

// A body that yields inside a catch block while its consumer has caught
// nothing (the inline fast path): the consumer sees no exception, the body
// gets its own back, also on another thread, and a generator destroyed
// there ends the catch block (no exception object leaks: ASan).
TEST(Generator, ABodysCaughtExceptionStaysWithIt) {
  const auto body = [](weft::yield_to<std::string>& yield) {
    yield("before");
    yield_inside_a_catch(yield);
    yield("after");
  };
  weft::generator<std::string> g(body);
  EXPECT_EQ(g.next(), "before");
  EXPECT_EQ(g.next(), "inside the body's catch");
  EXPECT_EQ(std::current_exception(), nullptr);
  EXPECT_EQ(std::uncaught_exceptions(), 0);
  std::thread([&g] {  // the body goes on under another thread's consumer
    EXPECT_EQ(g.next(), "body's");
    EXPECT_EQ(std::current_exception(), nullptr);
  })
      .join();
  EXPECT_EQ(g.next(), "still inside");
  EXPECT_EQ(g.next(), "after");
  EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_EQ(std::current_exception(), nullptr);

  weft::generator<std::string> abandoned(body);
  EXPECT_EQ(abandoned.next(), "before");
  EXPECT_EQ(abandoned.next(), "inside the body's catch");
  abandoned = weft::generator<std::string>(body);  // unwinds the first body in its catch
  EXPECT_EQ(std::current_exception(), nullptr);
  EXPECT_EQ(abandoned.next(), "before");
}

TEST(Generator, BadStackSizeIsRejectedByName) {
  try {
    weft::generator<int> g([](weft::yield_to<int>&) {}, 100);
    ADD_FAILURE() << "a 100-byte stack was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("stack_size"), std::string::npos) << e.what();
  }
}

class GeneratorInFibers : public ::testing::TestWithParam<unsigned> {
 protected:
  weft::runtime rt{weft::options{.workers = GetParam()}};
};

// The body waits (sleeps, receives from a channel): the consuming fiber
// parks meanwhile, may resume on another worker, and the values still come
// in order. Many consumers at once, each with its own generator.
TEST_P(GeneratorInFibers, BodiesMayWaitAndConsumersMayMove) {
  constexpr int consumers = 16;
  const int per = static_cast<int>(weft::test::scaled(200));
  const long total = rt.block_on([per] {
    std::vector<weft::join_handle<long>> hs;
    for (int c = 0; c < consumers; ++c) {
      hs.push_back(weft::spawn([per, c] {
        weft::channel<int> feed(4);
        auto feeder = weft::spawn([feed, per]() mutable {
          for (int i = 0; i < per; ++i) feed.send(i);
          feed.close();
        });
        weft::generator<int> g([feed, c](weft::yield_to<int>& yield) mutable {
          if (c % 4 == 0) weft::this_fiber::sleep_for(1ms);
          while (auto v = feed.recv()) yield(*v);
        });
        long sum = 0;
        int expected = 0;
        for (const int v : g) {
          EXPECT_EQ(v, expected++);
          sum += v;
          if (v % 16 == 0) weft::this_fiber::yield();
        }
        feeder.join();
        return sum;
      }));
    }
    long sum = 0;
    for (auto& h : hs) sum += h.join();
    return sum;
  });
  EXPECT_EQ(total, static_cast<long>(consumers) * per * (per - 1) / 2);
}

INSTANTIATE_TEST_SUITE_P(Workers, GeneratorInFibers, ::testing::ValuesIn(weft::test::worker_counts),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

}  // namespace
