// Inline joins (runtime/scheduler/inline_join.hpp): a child joined before it started,
// whose spawn entry is still in the deque of the joiner's worker, runs on the
// joiner's stack as a plain call. It must stay a full fiber: it may park, its
// exception reaches join(), runtime::fibers() lists it as itself, an overflow
// report names it and its host, and a thief that steals its entry races the
// joiner's claim so that it runs exactly once. No test here depends on
// timing: each checks a value, a count or an address, and a lost wake-up
// shows as a hang (the CTest timeout).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using weft::test::scaled;

// ---- how a test tells that a child ran inline

/// The address of the calling function's frame: on the stack the code runs
/// on (a local's address could lie in a sanitizer's fake stack instead).
[[gnu::noinline]] std::uintptr_t stack_position() {
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

/// Usable bytes of a default stack: the 64 KiB asked for plus as much
/// headroom (stack_pool.hpp).
constexpr std::uintptr_t default_stack_span = 128 * 1024;

/// Whether `child` (a stack position taken in a child) lies on the stack of
/// its joiner, below `joiner` (a position taken near the top of a shallow
/// joiner on a default stack, just before the join). A child run inline
/// extends the joiner's stack downwards, so its frames lie less than
/// default_stack_span below the joiner's. A child on a stack of its own
/// lies elsewhere: another stack is either above the joiner's, or below its
/// bottom and the 16 KiB guard under it, and the joiner's position is within
/// a few hundred bytes of its stack's top, so that is more than
/// default_stack_span below it (AddressCheckTellsAStartedChildApart below
/// checks that the test can fail).
bool ran_inline(std::uintptr_t joiner, std::uintptr_t child) {
  return child < joiner && joiner - child < default_stack_span;
}

// ---- single-worker semantics (one worker: every step is deterministic)

// A child that parks (receives from a channel a sibling spawned before it
// sends on) runs inline on its joiner's stack, and join() returns the value
// it received once it was resumed.
TEST(InlineJoin, ChildThatParksRunsInlineAndJoinReturnsItsValue) {
  weft::runtime rt(weft::options{.workers = 1});
  struct result {
    int value;
    std::uintptr_t joiner_at, child_at;
  };
  const result r = rt.block_on([] {
    weft::channel<int> values;
    auto provider = weft::spawn([values]() mutable { values.send(41); });
    std::uintptr_t child_at = 0;
    auto child = weft::spawn([values, &child_at]() mutable {
      child_at = stack_position();
      const std::optional<int> v = values.recv();  // parks: the provider has not run yet
      return v ? *v + 1 : -1;
    });
    const std::uintptr_t joiner_at = stack_position();
    const int value = child.join();
    provider.join();
    return result{value, joiner_at, child_at};
  });
  EXPECT_EQ(r.value, 42);
  EXPECT_TRUE(ran_inline(r.joiner_at, r.child_at))
      << "joiner frame " << r.joiner_at << ", child frame " << r.child_at;
  EXPECT_EQ(rt.stats().completed, 3U);
}

// An inline child parked on a channel is woken by a plain thread (from
// outside the runtime): it resumes on its joiner's stack, and join()
// returns its value.
TEST(InlineJoin, ChildWokenFromAPlainThreadResumesInline) {
  weft::runtime rt(weft::options{.workers = 1});
  weft::channel<int> values;
  std::uintptr_t joiner_at = 0, child_at = 0;
  auto root = rt.spawn([values, &joiner_at, &child_at] {
    auto child = weft::spawn([values, &child_at]() mutable {
      child_at = stack_position();
      const std::optional<int> v = values.recv();
      return v ? *v * 2 : -1;
    });
    joiner_at = stack_position();
    return child.join();
  });
  weft::test::wait_until_parked(rt, 1, weft::wait_kind::channel_recv);
  values.send(21);
  EXPECT_EQ(root.join(), 42);
  EXPECT_TRUE(ran_inline(joiner_at, child_at))
      << "joiner frame " << joiner_at << ", child frame " << child_at;
}

// The control for ran_inline(): a child that started before its join ran
// on a stack of its own, and the address check says so.
TEST(InlineJoin, AddressCheckTellsAStartedChildApart) {
  weft::runtime rt(weft::options{.workers = 1});
  std::atomic<bool> started{false};
  std::uintptr_t joiner_at = 0, child_at = 0;
  rt.block_on([&] {
    auto child = weft::spawn([&] {
      child_at = stack_position();
      started.store(true);
    });
    while (!started.load()) weft::this_fiber::yield();  // the child runs meanwhile
    joiner_at = stack_position();
    child.join();
  });
  EXPECT_FALSE(ran_inline(joiner_at, child_at))
      << "joiner frame " << joiner_at << ", child frame " << child_at;
}

struct inline_failure : std::runtime_error {
  inline_failure(const std::string& what, int c) : std::runtime_error(what), code(c) {}
  int code;
};

// join() rethrows an inline child's exception with its type, message and
// data, whether the child threw at once or after parking; the joiner then
// carries on with no exception pending, and later inline joins work.
TEST(InlineJoin, ExceptionReachesJoinAndTheJoinerCarriesOn) {
  weft::runtime rt(weft::options{.workers = 1});
  struct result {
    std::string first_what, second_what;
    int first_code = 0, second_code = 0;
    bool first_inline = false, second_inline = false, clean_after = false;
    int later = 0;
  };
  const result r = rt.block_on([] {
    result out;
    std::uintptr_t child_at = 0;
    auto thrower = weft::spawn([&child_at]() -> int {
      child_at = stack_position();
      throw inline_failure("inline child failed", 7);
    });
    std::uintptr_t joiner_at = stack_position();
    try {
      thrower.join();
    } catch (const inline_failure& e) {
      out.first_what = e.what();
      out.first_code = e.code;
    }
    out.first_inline = ran_inline(joiner_at, child_at);

    // Throws after parking on a channel a sibling spawned before it sends on.
    weft::channel<int> go;
    auto sender = weft::spawn([go]() mutable { go.send(1); });
    auto parker = weft::spawn([go, &child_at]() mutable -> int {
      child_at = stack_position();
      const std::optional<int> v = go.recv();
      throw inline_failure("failed after parking", v ? *v + 10 : -1);
    });
    joiner_at = stack_position();
    try {
      parker.join();
    } catch (const inline_failure& e) {
      out.second_what = e.what();
      out.second_code = e.code;
    }
    out.second_inline = ran_inline(joiner_at, child_at);
    sender.join();

    out.clean_after = std::current_exception() == nullptr && std::uncaught_exceptions() == 0;
    out.later = weft::spawn([] { return 5; }).join() + weft::spawn([] { return 6; }).join();
    return out;
  });
  EXPECT_EQ(r.first_what, "inline child failed");
  EXPECT_EQ(r.first_code, 7);
  EXPECT_TRUE(r.first_inline);
  EXPECT_EQ(r.second_what, "failed after parking");
  EXPECT_EQ(r.second_code, 11);
  EXPECT_TRUE(r.second_inline);
  EXPECT_TRUE(r.clean_after);
  EXPECT_EQ(r.later, 11);
  // The runtime still runs fibers after all that.
  EXPECT_EQ(rt.block_on([] { return weft::spawn([] { return 3; }).join(); }), 3);
}

// A new fiber has caught nothing (worker.cpp fiber_entry), and an inline
// child is a fiber like any: even when its joiner joins from inside a catch
// block, the child sees no current exception, and the joiner's own caught
// exception is still current once join() returns.
TEST(InlineJoin, ChildStartsWithNoCaughtExceptionEvenInsideJoinersCatch) {
  weft::runtime rt(weft::options{.workers = 1});
  struct result {
    bool child_saw_none = false, child_inline = false, joiner_kept_its_own = false;
  };
  const result r = rt.block_on([] {
    result out;
    try {
      throw std::runtime_error("the joiner's");
    } catch (const std::runtime_error&) {
      std::uintptr_t child_at = 0;
      auto child = weft::spawn([&child_at] {
        child_at = stack_position();
        return std::current_exception() == nullptr;
      });
      const std::uintptr_t joiner_at = stack_position();
      out.child_saw_none = child.join();
      out.child_inline = ran_inline(joiner_at, child_at);
      try {
        std::rethrow_exception(std::current_exception());
      } catch (const std::runtime_error& again) {
        out.joiner_kept_its_own = std::string(again.what()) == "the joiner's";
      } catch (...) {
      }
    }
    return out;
  });
  EXPECT_TRUE(r.child_inline);
  EXPECT_TRUE(r.child_saw_none);
  EXPECT_TRUE(r.joiner_kept_its_own);
}

// While an inline child runs, runtime::fibers() lists it as itself (its own
// id and name, running, no wait) and its joiner as parked in a join of it.
TEST(InlineJoin, FibersListsTheInlineChildRunningAndItsJoinerParked) {
  weft::runtime rt(weft::options{.workers = 1});
  struct seen {
    weft::fiber_id joiner_id, child_id, child_handle_id;
    std::optional<weft::fiber_info> joiner_info, child_info, joiner_again;
    std::size_t listed = 0;
    bool inline_run = false;
  };
  const seen s = rt.block_on([] {
    seen out;
    out.joiner_id = weft::this_fiber::get_id();
    std::uintptr_t child_at = 0;
    auto child = weft::spawn(weft::spawn_options{.name = "inline-listed"}, [&out, &child_at] {
      child_at = stack_position();
      out.child_id = weft::this_fiber::get_id();
      const std::vector<weft::fiber_info> all = weft::runtime::current()->fibers();
      out.listed = all.size();
      for (const weft::fiber_info& f : all) {
        if (f.id == out.child_id) out.child_info = f;
        if (f.id == out.joiner_id) out.joiner_info = f;
      }
      // The inline join is stamped by its first reader: a second snapshot
      // shows the same start.
      for (const weft::fiber_info& f : weft::runtime::current()->fibers()) {
        if (f.id == out.joiner_id) out.joiner_again = f;
      }
    });
    out.child_handle_id = child.id();
    const std::uintptr_t joiner_at = stack_position();
    child.join();
    out.inline_run = ran_inline(joiner_at, child_at);
    return out;
  });
  ASSERT_TRUE(s.inline_run);
  EXPECT_EQ(s.child_id, s.child_handle_id);
  EXPECT_NE(s.child_id, s.joiner_id);
  EXPECT_EQ(s.listed, 2U);
  ASSERT_TRUE(s.child_info.has_value());
  EXPECT_EQ(s.child_info->name, "inline-listed");
  EXPECT_EQ(s.child_info->state, weft::fiber_state::running);
  EXPECT_EQ(s.child_info->waiting_on, weft::wait_kind::none);
  ASSERT_TRUE(s.joiner_info.has_value());
  EXPECT_EQ(s.joiner_info->state, weft::fiber_state::parked);
  EXPECT_EQ(s.joiner_info->waiting_on, weft::wait_kind::join);
  EXPECT_NE(s.joiner_info->wait_object, nullptr);
  EXPECT_GT(s.joiner_info->waiting_since.time_since_epoch().count(), 0);
  EXPECT_LE(s.joiner_info->waiting_since, std::chrono::steady_clock::now());
  ASSERT_TRUE(s.joiner_again.has_value());
  EXPECT_EQ(s.joiner_again->waiting_since, s.joiner_info->waiting_since);
}

// Children joined oldest first are taken from deep in the deque (leaving
// holes): on one worker nobody can take them first, so every one runs
// inline, exactly once, and the holes are dropped (every fiber is counted
// completed and none stays alive).
TEST(InlineJoin, DeepEntriesJoinedOldestFirstRunInlineOnOneWorker) {
  weft::runtime rt(weft::options{.workers = 1});
  constexpr int children = 64;
  std::vector<std::atomic<int>> runs(children);
  std::vector<std::uintptr_t> child_at(children, 0);
  std::uintptr_t joiner_at = 0;
  const long long sum = rt.block_on([&] {
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < children; ++i) {
      hs.push_back(weft::spawn([&runs, &child_at, i] {
        child_at[static_cast<std::size_t>(i)] = stack_position();
        runs[static_cast<std::size_t>(i)].fetch_add(1);
        return i;
      }));
    }
    joiner_at = stack_position();
    long long total = 0;
    for (auto& h : hs) total += h.join();
    return total;
  });
  EXPECT_EQ(sum, children * (children - 1) / 2);
  for (int i = 0; i < children; ++i) {
    const auto k = static_cast<std::size_t>(i);
    EXPECT_EQ(runs[k].load(), 1) << "child " << i;
    EXPECT_TRUE(ran_inline(joiner_at, child_at[k])) << "child " << i;
  }
  while (rt.stats().alive != 0) std::this_thread::yield();
  EXPECT_EQ(rt.stats().spawned, children + 1U);
  EXPECT_EQ(rt.stats().completed, children + 1U);
}

// ---- stack overflow (death tests run in a child process)

class InlineJoinDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// A 32 KiB child joined from a shallow default-stack fiber runs inline (the
// joiner has 128 KiB, at least 32 + 4 KiB of it left); when it recurses
// without bound it hits the joiner's stack's guard, and the report names
// the child, the stack it asked for, and the fiber it ran inline on.
TEST_F(InlineJoinDeathTest, StackOverflowNamesTheChildAndItsHost) {
  EXPECT_DEATH(
      {
        weft::runtime rt(weft::options{.workers = 1});
        rt.block_on([] {
          return weft::spawn(weft::spawn_options{.name = "deep-inline", .stack_size = 32 * 1024},
                             [] { return weft::test::recurse_deep(0, 1 << 20); })
              .join();
        });
      },
      "weft: stack overflow in fiber [0-9]+ \"deep-inline\" \\(stack 32 KiB, run inline by "
      "fiber [0-9]+\\)");
}

// ---- with 1, 2, 4 and 8 workers

class InlineJoinStress : public ::testing::TestWithParam<unsigned> {
 protected:
  weft::runtime rt{weft::options{.workers = GetParam()}};
};

// A fork-join tree whose joins mostly run their children inline, nested
// inline runs included (each inline child spawns and joins its own), gives
// the right value, and every fiber is counted spawned and completed.
TEST_P(InlineJoinStress, ForkJoinFib) {
  constexpr int n = 20;
  const int repeats = static_cast<int>(scaled(20));
  for (int r = 0; r < repeats; ++r) {
    ASSERT_EQ(rt.block_on([] { return weft::test::spawn_fib(n); }), weft::test::fib_value(n))
        << "repeat " << r;
  }
  while (rt.stats().alive != 0) std::this_thread::yield();
  // fib(k) spawns fib(k-1) for k >= 2: fib_value(n + 1) - 1 spawns, plus the root.
  const auto fibers = static_cast<std::uint64_t>(weft::test::fib_value(n + 1)) *
                      static_cast<std::uint64_t>(repeats);
  EXPECT_EQ(rt.stats().spawned, fibers);
  EXPECT_EQ(rt.stats().completed, fibers);
}

// Children joined inline that park in every way (yield, a channel round
// trip with a sibling, a contended mutex, joining a grandchild that yields)
// while other workers steal: every child runs exactly once, every value and
// every message arrives, the mutex-protected count is exact.
TEST_P(InlineJoinStress, ParkingChildrenConserveValues) {
  constexpr int children = 56;  // a multiple of 7: every kind of child in every round
  const int rounds = static_cast<int>(scaled(300));
  std::vector<std::atomic<int>> runs(static_cast<std::size_t>(children * rounds));
  std::atomic<long long> received{0};
  weft::mutex guard;
  long long guarded = 0;  // under `guard`
  const long long sum = rt.block_on([&] {
    long long total = 0;
    for (int round = 0; round < rounds; ++round) {
      std::vector<weft::channel<int>> pairs(children / 7);
      std::vector<weft::join_handle<long long>> hs;
      for (int i = 0; i < children; ++i) {
        const int slot = round * children + i;
        weft::channel<int> pair = pairs[static_cast<std::size_t>(i / 7)];
        hs.push_back(weft::spawn([&runs, &received, &guard, &guarded, slot, i, pair]() mutable {
          runs[static_cast<std::size_t>(slot)].fetch_add(1);
          volatile int spin = 0;  // a little work, so idle workers steal meanwhile
          for (int k = 0; k < 500; ++k) spin = spin + k;
          switch (i % 7) {
            case 0:
              weft::this_fiber::yield();
              break;
            case 3: {  // receives what its sibling i + 1 sends
              const std::optional<int> v = pair.recv();
              received.fetch_add(v ? *v : -1'000'000);
              break;
            }
            case 4:
              pair.send(slot);
              break;
            case 5: {
              const std::lock_guard lock(guard);
              weft::this_fiber::yield();  // holds the mutex across a switch: others park on it
              ++guarded;
              break;
            }
            case 6:
              return static_cast<long long>(weft::spawn([slot] {
                                              weft::this_fiber::yield();
                                              return slot;
                                            }).join());
            default:
              break;
          }
          return static_cast<long long>(slot);
        }));
      }
      if (round % 2 == 0) {
        for (auto& h : hs) total += h.join();  // oldest first: claims deep entries
      } else {
        for (auto it = hs.rbegin(); it != hs.rend(); ++it) total += it->join();  // newest first
      }
    }
    return total;
  });
  const long long slots = static_cast<long long>(children) * rounds;
  EXPECT_EQ(sum, slots * (slots - 1) / 2);
  for (std::size_t k = 0; k < runs.size(); ++k) ASSERT_EQ(runs[k].load(), 1) << "child " << k;
  // Each sender is the slot after its receiver's: sum over receivers of (slot + 1).
  long long expected_received = 0;
  for (int round = 0; round < rounds; ++round) {
    for (int i = 3; i < children; i += 7) expected_received += round * children + i + 1;
  }
  EXPECT_EQ(received.load(), expected_received);
  EXPECT_EQ(guarded, static_cast<long long>(rounds) * (children / 7));
  while (rt.stats().alive != 0) std::this_thread::yield();
  EXPECT_EQ(rt.stats().completed, rt.stats().spawned);
}

INSTANTIATE_TEST_SUITE_P(Workers, InlineJoinStress, ::testing::ValuesIn(weft::test::worker_counts),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

// ---- with 2, 4 and 8 workers: thieves race the joiner's claims

class InlineJoinSteal : public ::testing::TestWithParam<unsigned> {
 protected:
  weft::runtime rt{weft::options{.workers = GetParam()}};
};

// A fiber spawns 64 children and joins them oldest first, so its claims
// leave tombstones deep in its deque while idle workers steal from the
// top: each child runs exactly once (inline, or by the thief that won its
// entry), every value reaches join(), and no tombstone is started.
TEST_P(InlineJoinSteal, EveryChildRunsExactlyOnce) {
  constexpr int children = 64;
  const int rounds = static_cast<int>(scaled(200));
  std::vector<std::atomic<int>> runs(static_cast<std::size_t>(children * rounds));
  const long long sum = rt.block_on([&runs, rounds] {
    long long total = 0;
    for (int round = 0; round < rounds; ++round) {
      std::vector<weft::join_handle<long long>> hs;
      hs.reserve(children);
      for (int i = 0; i < children; ++i) {
        const int slot = round * children + i;
        hs.push_back(weft::spawn([&runs, slot] {
          runs[static_cast<std::size_t>(slot)].fetch_add(1);
          // A little work, so thieves steal while the joiner claims.
          volatile int spin = 0;
          for (int k = 0; k < 2000; ++k) spin = spin + k;
          return static_cast<long long>(slot);
        }));
      }
      for (auto& h : hs) total += h.join();
    }
    return total;
  });
  const long long slots = static_cast<long long>(children) * rounds;
  EXPECT_EQ(sum, slots * (slots - 1) / 2);
  for (std::size_t k = 0; k < runs.size(); ++k) ASSERT_EQ(runs[k].load(), 1) << "child " << k;
  while (rt.stats().alive != 0) std::this_thread::yield();
  EXPECT_EQ(rt.stats().spawned, static_cast<std::uint64_t>(slots) + 1);
  EXPECT_EQ(rt.stats().completed, static_cast<std::uint64_t>(slots) + 1);
}

INSTANTIATE_TEST_SUITE_P(Workers, InlineJoinSteal, ::testing::Values(2U, 4U, 8U),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

}  // namespace
