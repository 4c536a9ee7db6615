// White-box tests for weft::detail::local_queue (runtime/scheduler/local_queue.hpp).
//
// The concurrent tests carry pointers to items whose payload is a plain (non-atomic) field written
// by the owner just before push() and read by whoever takes the item: under ThreadSanitizer this
// checks that the queue publishes the data behind the pointers, not just the pointers.

#include "scheduler/local_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "scheduler/steal_gate.hpp"
#include "test_support.hpp"

namespace weft::detail {
namespace {

static_assert(!std::is_copy_constructible_v<local_queue<int*>::owner>);
static_assert(std::is_nothrow_move_constructible_v<local_queue<int*>::owner>);
static_assert(std::is_copy_constructible_v<local_queue<int*>::stealer>);

using value_t = std::uintptr_t;

TEST(LocalQueue, Smoke) {
  local_queue<value_t, 8> q;
  auto owner = q.owner_handle();
  auto stealer = q.stealer_handle();

  EXPECT_EQ(owner.capacity(), 8u);
  EXPECT_TRUE(owner.empty_estimate());
  EXPECT_TRUE(stealer.empty_estimate());
  EXPECT_EQ(owner.size_estimate(), 0u);
  EXPECT_EQ(owner.pop(), std::nullopt);
  EXPECT_EQ(stealer.steal().status, steal_status::empty);

  for (value_t v = 1; v <= 5; ++v) owner.push(v);
  EXPECT_EQ(owner.size_estimate(), 5u);
  EXPECT_FALSE(owner.empty_estimate());
  EXPECT_FALSE(stealer.empty_estimate());

  // The owner's end is LIFO.
  EXPECT_EQ(owner.pop(), std::optional<value_t>(5));
  EXPECT_EQ(owner.pop(), std::optional<value_t>(4));

  // The thieves' end is FIFO; copies of a stealer share the queue.
  steal_result<value_t> r = stealer.steal();
  EXPECT_EQ(r.status, steal_status::success);
  EXPECT_EQ(r.value, 1u);
  const auto stealer_copy = stealer;
  r = stealer_copy.steal();
  EXPECT_EQ(r.status, steal_status::success);
  EXPECT_EQ(r.value, 2u);

  // The last element, taken by the owner.
  EXPECT_EQ(owner.pop(), std::optional<value_t>(3));
  EXPECT_TRUE(owner.empty_estimate());
  EXPECT_EQ(owner.pop(), std::nullopt);
  EXPECT_EQ(stealer.steal().status, steal_status::empty);

  // A moved owner handle keeps working, and the last element can go to a thief too.
  auto moved = std::move(owner);
  moved.push(42);
  r = stealer.steal();
  EXPECT_EQ(r.status, steal_status::success);
  EXPECT_EQ(r.value, 42u);
  EXPECT_EQ(moved.pop(), std::nullopt);
  EXPECT_EQ(moved.capacity(), 8u);
}

TEST(LocalQueue, Growth) {
  local_queue<value_t, 2> q;
  auto owner = q.owner_handle();
  auto stealer = q.stealer_handle();
  ASSERT_EQ(owner.capacity(), 2u);

  // Move top off zero first, so growth copies a live range that does not start at slot 0.
  owner.push(100);
  owner.push(101);
  steal_result<value_t> r = stealer.steal();
  ASSERT_EQ(r.status, steal_status::success);
  EXPECT_EQ(r.value, 100u);

  constexpr value_t kN = 1000;
  for (value_t v = 0; v < kN; ++v) owner.push(v);
  EXPECT_EQ(owner.size_estimate(), kN + 1);
  EXPECT_EQ(owner.capacity(), 1024u);  // 1001 live elements: 2 -> 4 -> ... -> 1024.

  r = stealer.steal();
  ASSERT_EQ(r.status, steal_status::success);
  EXPECT_EQ(r.value, 101u);
  for (value_t v = 0; v < kN / 2; ++v) {
    r = stealer.steal();
    ASSERT_EQ(r.status, steal_status::success);
    EXPECT_EQ(r.value, v);
  }
  for (value_t v = kN; v-- > kN / 2;) EXPECT_EQ(owner.pop(), std::optional<value_t>(v));
  EXPECT_EQ(owner.pop(), std::nullopt);
  EXPECT_EQ(stealer.steal().status, steal_status::empty);
  EXPECT_EQ(owner.capacity(), 1024u);  // Never shrinks.
}

TEST(LocalQueue, WrapAround) {
  constexpr std::size_t kCapacity = 4;
  constexpr std::size_t kCycles = 2000;
  local_queue<value_t, kCapacity> q;
  auto owner = q.owner_handle();
  auto stealer = q.stealer_handle();

  value_t next = 0;
  for (std::size_t cycle = 0; cycle < kCycles; ++cycle) {
    // k in [1, kCapacity]: filling the ring exactly must not grow it either.
    const std::size_t k = 1 + cycle % kCapacity;
    const value_t first = next;
    for (std::size_t i = 0; i < k; ++i) owner.push(next++);
    ASSERT_EQ(owner.size_estimate(), k);

    // Take `steals` from the top (oldest first), the rest from the bottom (newest first).
    const std::size_t steals = (cycle / kCapacity) % (k + 1);
    for (std::size_t i = 0; i < steals; ++i) {
      const steal_result<value_t> r = stealer.steal();
      ASSERT_EQ(r.status, steal_status::success);
      EXPECT_EQ(r.value, first + i);
    }
    for (std::size_t i = 0; i < k - steals; ++i) {
      EXPECT_EQ(owner.pop(), std::optional<value_t>(first + k - 1 - i));
    }
    ASSERT_TRUE(owner.empty_estimate());
    EXPECT_EQ(owner.pop(), std::nullopt);
    EXPECT_EQ(stealer.steal().status, steal_status::empty);
  }
  EXPECT_EQ(owner.capacity(), kCapacity);
  EXPECT_GT(next, 100 * kCapacity);  // The indices went round the ring many times.
}

// ---- Concurrent scenarios -------------------------------------------------------------------

struct item {
  std::uint64_t payload = 0;  // Plain field: written by the owner before push().
  std::atomic<int> taken{0};  // How many times the item came out of the queue.
};

std::uint64_t payload_for(std::size_t index) { return index * 0x9E3779B97F4A7C15ull + 1; }

struct contention_plan {
  int thieves = 1;
  std::size_t gated = 0;  // Pushed before the thieves are let loose.
  // Then, for each burst: push that many items and pop one.
  std::vector<std::size_t> bursts;
  // Take every other item out of the middle with peek_at() + take_at() (an inline join's
  // claim) instead of pop(), as deep as this (0: pop only). The holes it leaves come out of
  // pop() and steal() as nullptr and are skipped.
  std::int64_t remove_depth = 0;
  // Steal through this gate (steal_gate.hpp): the owner's claims fence only while a thief holds
  // a licence, and each thief returns its licence every `licence_span` steal attempts and takes
  // it again before the next, so that claims keep crossing the gate's transitions.
  steal_gate* gate = nullptr;
  int licence_span = 0;
};

struct contention_outcome {
  std::size_t by_owner = 0;
  std::size_t by_thieves = 0;
  std::size_t capacity_at_gate = 0;
  std::size_t final_capacity = 0;
};

// The owner (this thread) pushes distinct items following `plan`, popping between bursts, then
// drains the queue with pop(); thieves steal until the owner is done and the queue is empty.
// Checks that every item was taken exactly once, with the payload the owner wrote.
template <std::size_t Capacity>
contention_outcome run_owner_vs_thieves(const contention_plan& plan) {
  std::size_t total = plan.gated;
  for (std::size_t burst : plan.bursts) total += burst;
  std::vector<item> items(total);

  local_queue<item*, Capacity> q;
  auto owner = q.owner_handle();

  std::atomic<bool> go{false};
  std::atomic<int> running{0};
  std::atomic<bool> done{false};
  std::atomic<std::size_t> stolen{0};
  std::atomic<std::size_t> bad_payloads{0};

  auto take = [&](item* it, std::size_t& bad) {
    if (it->payload != payload_for(static_cast<std::size_t>(it - items.data()))) ++bad;
    it->taken.fetch_add(1, std::memory_order_relaxed);
  };

  std::vector<std::thread> thieves;
  for (int i = 0; i < plan.thieves; ++i) {
    thieves.emplace_back([&, stealer = q.stealer_handle()] {
      std::size_t mine = 0;
      std::size_t bad = 0;
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      running.fetch_add(1, std::memory_order_release);
      bool licensed = false;
      for (int attempt = 1;; ++attempt) {
        // Read `done` before stealing: once the owner is done nothing is pushed any more, so an
        // empty result after seeing `done` means empty for good.
        const bool owner_done = done.load(std::memory_order_acquire);
        if (plan.gate != nullptr && !licensed) {
          plan.gate->take_licence();
          licensed = true;
        }
        const steal_result<item*> r = stealer.steal();
        if (plan.gate != nullptr && attempt % plan.licence_span == 0) {
          plan.gate->return_licence();
          licensed = false;
        }
        if (r.status == steal_status::success) {
          if (r.value != nullptr) {  // not a hole
            take(r.value, bad);
            ++mine;
          }
          continue;
        }
        if (r.status == steal_status::empty && owner_done) break;
        std::this_thread::yield();
      }
      if (licensed) plan.gate->return_licence();
      stolen.fetch_add(mine, std::memory_order_relaxed);
      bad_payloads.fetch_add(bad, std::memory_order_relaxed);
    });
  }

  const claim_policy claims = plan.gate != nullptr ? plan.gate->owner_claims(false) : true;
  contention_outcome out;
  std::size_t owner_bad = 0;
  std::size_t next = 0;
  auto push_next = [&] {
    items[next].payload = payload_for(next);
    owner.push(&items[next]);
    ++next;
  };
  std::size_t removals = 0;
  auto pop_one = [&] {
    const auto depth =
        plan.remove_depth > 0
            ? static_cast<std::int64_t>(removals++ % 2 ? next % plan.remove_depth : 0)
            : 0;
    if (depth > 0) {
      if (const std::optional<item*> v = owner.peek_at(depth);
          v && *v != nullptr && owner.take_at(depth, claims)) {
        take(*v, owner_bad);
        ++out.by_owner;
        return true;
      }
    }
    while (const std::optional<item*> v = owner.pop(claims)) {
      if (*v == nullptr) continue;  // a hole
      take(*v, owner_bad);
      ++out.by_owner;
      return true;
    }
    return false;
  };

  for (std::size_t i = 0; i < plan.gated; ++i) push_next();
  out.capacity_at_gate = owner.capacity();
  go.store(true, std::memory_order_release);
  // Start pushing only once every thief is in its steal loop.
  while (running.load(std::memory_order_acquire) != plan.thieves) std::this_thread::yield();
  for (std::size_t burst : plan.bursts) {
    for (std::size_t i = 0; i < burst; ++i) push_next();
    pop_one();
  }
  while (pop_one()) {
  }
  out.final_capacity = owner.capacity();
  done.store(true, std::memory_order_release);
  for (std::thread& t : thieves) t.join();
  out.by_thieves = stolen.load(std::memory_order_relaxed);

  EXPECT_EQ(next, total);
  EXPECT_EQ(out.by_owner + out.by_thieves, total);
  EXPECT_EQ(owner_bad + bad_payloads.load(std::memory_order_relaxed), 0u);
  std::size_t not_once = 0;
  for (const item& it : items) not_once += it.taken.load(std::memory_order_relaxed) != 1;
  EXPECT_EQ(not_once, 0u) << "items taken zero or several times";
  EXPECT_TRUE(owner.empty_estimate());
  EXPECT_EQ(owner.pop(), std::nullopt);
  EXPECT_EQ(q.stealer_handle().steal().status, steal_status::empty);
  return out;
}

class OwnerVsThieves : public ::testing::TestWithParam<int> {};

TEST_P(OwnerVsThieves, EveryElementTakenExactlyOnce) {
  contention_plan plan;
  plan.thieves = GetParam();
  plan.bursts.assign(6000, 3);  // Push 3, pop 1: 18000 items.
  run_owner_vs_thieves<256>(plan);
}

INSTANTIATE_TEST_SUITE_P(ThiefCounts, OwnerVsThieves, ::testing::Values(1, 2, 4, 8),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return std::to_string(param_info.param) + "Thieves";
                         });

// take_at() racing thieves: an element taken out of the middle is never also stolen, and the
// others are still taken exactly once.
TEST_P(OwnerVsThieves, TakingFromTheMiddleTakesEveryElementExactlyOnce) {
  contention_plan plan;
  plan.thieves = GetParam();
  plan.bursts.assign(6000, 5);  // Push 5, take 1: 30000 items.
  plan.remove_depth = 6;
  run_owner_vs_thieves<256>(plan);
}

// The same races with claims gated by a steal gate (steal_gate.hpp): the owner skips the fence
// while no thief holds a licence, and the thieves keep returning theirs and taking them again.
TEST_P(OwnerVsThieves, GatedClaimsTakeEveryElementExactlyOnce) {
  steal_gate gate(true);
  contention_plan plan;
  plan.thieves = GetParam();
  plan.bursts.assign(6000, 5);  // Push 5, take 1: 30000 items.
  plan.remove_depth = 6;
  plan.gate = &gate;
  plan.licence_span = 16;
  run_owner_vs_thieves<256>(plan);
  // Every licence came back: the owner's claims need no fence again.
  const claim_policy claims = gate.owner_claims(false);
  if (gate.asymmetric()) {
    ASSERT_NE(claims.licences(), nullptr);
    EXPECT_EQ(claims.licences()->load(), 0u);
  }
}

// Without the asymmetric fence (WEFT_STEAL_GATE=0, or no membarrier) the gate makes every claim
// the plain Chase-Lev handshake; with it, a claim counts the other parties' licences only.
TEST(StealGate, ClaimsFenceOnlyWhileAnotherPartyHoldsALicence) {
  steal_gate plain(false);
  EXPECT_FALSE(plain.asymmetric());
  EXPECT_EQ(plain.owner_claims(false).licences(), nullptr);
  EXPECT_TRUE(plain.owner_claims(false).thieves());

  steal_gate gate(true);
  if (!gate.asymmetric()) GTEST_SKIP() << "no membarrier here: every claim fences";
  const claim_policy mine = gate.owner_claims(true);
  ASSERT_NE(mine.licences(), nullptr);
  EXPECT_EQ(mine.licences()->load(), 0u);
  gate.take_licence();                             // the owner's own, to steal from others
  EXPECT_EQ(mine.licences()->load(), mine.own());  // only its own: no fence
  gate.take_licence();                             // another worker's
  EXPECT_GT(mine.licences()->load(), mine.own());
  gate.return_licence();
  gate.return_licence();
  EXPECT_EQ(gate.owner_claims(false).licences()->load(), 0u);
}

// WEFT_STEAL_GATE: unset or 1 asks for the asymmetric fence, 0 for the plain handshake.
TEST(StealGate, TheEnvironmentSwitchesTheAsymmetricFence) {
  {
    weft::test::scoped_environment unset("WEFT_STEAL_GATE", "");
    EXPECT_TRUE(steal_gate_wanted());
  }
  {
    weft::test::scoped_environment on("WEFT_STEAL_GATE", "1");
    EXPECT_TRUE(steal_gate_wanted());
  }
  weft::test::scoped_environment off("WEFT_STEAL_GATE", "0");
  EXPECT_FALSE(steal_gate_wanted());
  EXPECT_FALSE(steal_gate(steal_gate_wanted()).asymmetric());
}

TEST(LocalQueue, TakeAtLeavesAHoleAndTheRestInPlace) {
  local_queue<value_t, 4> q;  // grows while filled
  auto owner = q.owner_handle();
  for (value_t v = 1; v <= 6; ++v) owner.push(v);
  EXPECT_EQ(owner.next_index(), 6);
  EXPECT_EQ(owner.peek_at(0), std::optional<value_t>(6));
  EXPECT_EQ(owner.peek_at(3), std::optional<value_t>(3));
  EXPECT_EQ(owner.peek_at(6), std::nullopt);
  ASSERT_TRUE(owner.take_at(3, true));                     // takes 3
  ASSERT_TRUE(owner.take_at(0, false));                    // takes 6 (no thieves: no handshake)
  EXPECT_EQ(owner.peek_at(3), std::optional<value_t>(0));  // a hole, in place
  EXPECT_EQ(owner.peek_at(2), std::optional<value_t>(4));  // the others keep their places
  EXPECT_EQ(owner.next_index(), 6);
  auto stealer = q.stealer_handle();
  EXPECT_EQ(stealer.steal().value, 1u);  // oldest first from the top
  for (value_t v : {0u, 5u, 4u, 0u, 2u}) EXPECT_EQ(owner.pop(), std::optional<value_t>(v));
  EXPECT_EQ(owner.pop(), std::nullopt);
}

// pop() without thieves (a runtime with one worker) skips the handshake and still takes the
// newest first, holes included.
TEST(LocalQueue, PopWithoutThieves) {
  local_queue<value_t, 4> q;  // grows while filled
  auto owner = q.owner_handle();
  for (value_t v = 1; v <= 6; ++v) owner.push(v);
  ASSERT_TRUE(owner.take_at(2, false));  // takes 4, leaves a hole
  for (value_t v : {6u, 5u, 0u, 3u, 2u, 1u}) EXPECT_EQ(owner.pop(false), std::optional<value_t>(v));
  EXPECT_EQ(owner.pop(false), std::nullopt);
  EXPECT_TRUE(owner.empty_estimate());
  owner.push(7);
  EXPECT_EQ(owner.pop(), std::optional<value_t>(7));
}

TEST(LocalQueue, GrowthUnderContention) {
  contention_plan plan;
  plan.thieves = 4;
  // Three items before the gate grow the ring 2 -> 4 deterministically. After it, bursts of
  // doubling size keep outrunning the thieves, so the ring grows while they steal.
  plan.gated = 3;
  for (std::size_t burst = 4; burst <= 4096; burst *= 2) plan.bursts.push_back(burst);
  const contention_outcome out = run_owner_vs_thieves<2>(plan);
  EXPECT_EQ(out.capacity_at_gate, 4u);
  EXPECT_GE(out.final_capacity, out.capacity_at_gate);
}

// Busy-waits `n` iterations. The racers below use it to stagger themselves differently from round
// to round, so that sometimes the owner and sometimes the thief gets there first.
void spin(int n) {
  std::atomic<int> counter{0};
  for (int i = 0; i < n; ++i) counter.fetch_add(1, std::memory_order_relaxed);
}

// Pseudo-random delay in [0, 2048) for round `r`.
int delay_for(int r) { return static_cast<int>((static_cast<unsigned>(r) * 2654435761u) >> 21); }

TEST(LocalQueue, LastElementRace) {
  constexpr int kRounds = 3000;
  std::vector<item> items(kRounds);
  local_queue<item*, 2> q;
  auto owner = q.owner_handle();

  std::atomic<int> round{-1};     // Owner -> thief: item `round` has been pushed.
  std::atomic<int> armed{-1};     // Thief -> owner: about to steal in this round.
  std::atomic<int> finished{-1};  // Thief -> owner: done stealing in this round.
  int thief_wins = 0;             // Read by the owner after join().

  std::thread thief([&, stealer = q.stealer_handle()] {
    for (int r = 0; r < kRounds; ++r) {
      while (round.load(std::memory_order_acquire) != r) std::this_thread::yield();
      armed.store(r, std::memory_order_release);
      spin(r % 2 == 1 ? delay_for(r) : 0);
      steal_result<item*> res;
      do {
        res = stealer.steal();  // `retry` means we lost; the next try then sees it empty.
      } while (res.status == steal_status::retry);
      if (res.status == steal_status::success) {
        EXPECT_EQ(res.value, &items[static_cast<std::size_t>(r)]);
        EXPECT_EQ(res.value->payload, payload_for(static_cast<std::size_t>(r)));
        res.value->taken.fetch_add(1, std::memory_order_relaxed);
        ++thief_wins;
      }
      finished.store(r, std::memory_order_release);
    }
  });

  int owner_wins = 0;
  for (int r = 0; r < kRounds; ++r) {
    item& it = items[static_cast<std::size_t>(r)];
    it.payload = payload_for(static_cast<std::size_t>(r));
    owner.push(&it);
    round.store(r, std::memory_order_release);
    // Spin briefly so that the pop really races the steal; yield if the thief is not running.
    for (int spins = 0; armed.load(std::memory_order_acquire) != r; ++spins) {
      if (spins > 1000) std::this_thread::yield();
    }
    spin(r % 4 == 2 ? delay_for(r) : 0);
    if (const std::optional<item*> v = owner.pop()) {
      EXPECT_EQ(*v, &it);
      it.taken.fetch_add(1, std::memory_order_relaxed);
      ++owner_wins;
    }
    while (finished.load(std::memory_order_acquire) != r) std::this_thread::yield();
    // EXPECT, not ASSERT: returning early would leave the thief thread unjoined.
    EXPECT_EQ(it.taken.load(std::memory_order_relaxed), 1) << "round " << r;
    EXPECT_TRUE(owner.empty_estimate()) << "round " << r;
  }
  thief.join();

  EXPECT_EQ(owner_wins + thief_wins, kRounds);
  EXPECT_EQ(owner.capacity(), 2u);  // One element at a time never grows the ring.
}

}  // namespace
}  // namespace weft::detail
