// White-box tests of the inject queue (inject_queue.hpp): a FIFO that
// producers push on with one exchange and consumers take from in order,
// one node or a batch at a time; and of the workers that take those
// batches into their deques (worker.cpp, take_injected).
#include "scheduler/inject_queue.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "scheduler/worker.hpp"
#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

struct node {
  node* next_in_list = nullptr;
  int producer = 0;
  int sequence = 0;
  std::atomic<int> taken{0};
};

using queue = weft::detail::intrusive_inject_queue<node>;

// One node at a time, as a consumer that asks for no batch.
node* pop(queue& q) {
  node* n = nullptr;
  return q.pop(std::span<node*>(&n, 1)) == 1 ? n : nullptr;
}

// The sequence numbers of the nodes a pop() with this cap takes, in the
// order it gives them; each must be unlinked.
std::vector<int> take(queue& q, std::size_t cap) {
  std::vector<node*> batch(cap, nullptr);
  const std::size_t taken = q.pop(batch);
  std::vector<int> out;
  for (std::size_t i = 0; i < taken; ++i) {
    EXPECT_EQ(batch[i]->next_in_list, nullptr);
    out.push_back(batch[i]->sequence);
  }
  return out;
}

TEST(InjectQueue, AConsumerTakesUpToWhatItAsksForOldestFirst) {
  queue q;
  std::vector<node> nodes(10);
  for (int i = 0; i < 10; ++i) {
    nodes[i].sequence = i;
    q.push(&nodes[i]);
  }
  EXPECT_EQ(take(q, 4), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(take(q, 1), (std::vector<int>{4}));
  EXPECT_EQ(take(q, 100), (std::vector<int>{5, 6, 7, 8, 9}));  // all that is left
  EXPECT_EQ(take(q, 100), std::vector<int>{});
  EXPECT_TRUE(q.probably_empty());
  // Pushed after a batch was taken: they queue behind what is left.
  for (int i = 0; i < 3; ++i) q.push(&nodes[i]);
  EXPECT_EQ(take(q, 2), (std::vector<int>{0, 1}));
  q.push(&nodes[5]);
  EXPECT_EQ(take(q, 1), (std::vector<int>{2}));
  EXPECT_EQ(take(q, 100), (std::vector<int>{5}));
  EXPECT_TRUE(q.probably_empty());
}

TEST(InjectQueue, TakingTheLastNodeEmptiesTheQueueForTheNextPush) {
  // The last node leaves by moving the tail back to null; the next push
  // then starts a new list at the head.
  queue q;
  std::vector<node> nodes(3);
  for (int round = 0; round < 3; ++round) {
    q.push(&nodes[0]);
    EXPECT_FALSE(q.probably_empty());
    EXPECT_EQ(pop(q), &nodes[0]);
    EXPECT_TRUE(q.probably_empty());
    EXPECT_EQ(pop(q), nullptr);
    q.push(&nodes[1]);
    q.push(&nodes[2]);
    EXPECT_EQ(pop(q), &nodes[1]);
    EXPECT_EQ(pop(q), &nodes[2]);
    EXPECT_EQ(nodes[1].next_in_list, nullptr);
    EXPECT_TRUE(q.probably_empty());
  }
}

TEST(InjectQueue, OneProducerIsFirstInFirstOut) {
  queue q;
  EXPECT_TRUE(q.probably_empty());
  EXPECT_EQ(pop(q), nullptr);
  std::vector<node> nodes(100);
  for (int i = 0; i < 50; ++i) {
    nodes[i].sequence = i;
    q.push(&nodes[i]);
  }
  EXPECT_FALSE(q.probably_empty());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(pop(q)->sequence, i);
  // Pushes while the queue still holds older nodes come after them.
  for (int i = 50; i < 100; ++i) {
    nodes[i].sequence = i;
    q.push(&nodes[i]);
  }
  for (int i = 20; i < 100; ++i) {
    node* n = pop(q);
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->sequence, i);
    EXPECT_EQ(n->next_in_list, nullptr);  // unlinked: free for the yield FIFO
  }
  EXPECT_EQ(pop(q), nullptr);
  EXPECT_TRUE(q.probably_empty());
}

// Producers push concurrently while consumers pop, in batches of up to
// `max_batch`: every node is taken exactly once, and each consumer sees
// each producer's nodes in order. Consumers race producers for the tail
// (taking the last node while a push claims it) and find successors not
// yet linked.
void run_producers_and_consumers(int producers, int consumers, std::size_t max_batch) {
  const int per_producer = static_cast<int>(weft::test::scaled(50'000));
  std::vector<std::vector<node>> nodes;
  for (int p = 0; p < producers; ++p) nodes.emplace_back(per_producer);
  queue q;
  std::atomic<int> producers_left{producers};
  std::atomic<long> taken{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        nodes[p][i].producer = p;
        nodes[p][i].sequence = i;
        q.push(&nodes[p][i]);
      }
      producers_left.fetch_sub(1);
    });
  }
  std::atomic<bool> in_order{true};
  std::atomic<bool> batches_unlinked{true};  // every taken node's link is null
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&] {
      std::vector<int> last_seen(producers, -1);
      std::vector<node*> batch(max_batch);
      for (;;) {
        // Read before the pop: if no producer was left then and the queue
        // is empty now, every push is visible and taken.
        const bool all_pushed = producers_left.load() == 0;
        const std::size_t got = q.pop(batch);
        if (got == 0) {
          if (all_pushed && q.probably_empty()) return;
          std::this_thread::yield();
          continue;
        }
        for (std::size_t i = 0; i < got; ++i) {
          node* n = batch[i];
          if (n->next_in_list != nullptr) batches_unlinked = false;
          n->taken.fetch_add(1);
          if (n->sequence <= last_seen[n->producer]) in_order = false;
          last_seen[n->producer] = n->sequence;
        }
        taken.fetch_add(static_cast<long>(got));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(taken.load(), static_cast<long>(producers) * per_producer);
  EXPECT_TRUE(in_order.load());
  EXPECT_TRUE(batches_unlinked.load());
  for (const auto& per : nodes) {
    for (const node& n : per) ASSERT_EQ(n.taken.load(), 1) << n.producer << " " << n.sequence;
  }
}

TEST(InjectQueue, ManyProducersOneConsumer) { run_producers_and_consumers(4, 1, 1); }
TEST(InjectQueue, ManyProducersManyConsumers) { run_producers_and_consumers(4, 3, 1); }
TEST(InjectQueue, ManyProducersManyConsumersInBatches) { run_producers_and_consumers(4, 3, 32); }

TEST(InjectBatches, ByDefaultOnlyWithOthersToShareThemAndACpuForTheSubmitter) {
  weft::test::scoped_environment unset("WEFT_INJECT_BATCHES", "");
  const unsigned cpus = weft::detail::usable_cpus();
  EXPECT_FALSE(weft::detail::inject_batches_pay(1));
  EXPECT_FALSE(weft::detail::inject_batches_pay(cpus));
  EXPECT_EQ(weft::detail::inject_batches_pay(2), cpus > 2);
}

TEST(InjectBatches, TheEnvironmentOverridesTheRuleAndABadValueIsNamed) {
  {
    weft::test::scoped_environment on("WEFT_INJECT_BATCHES", "1");
    EXPECT_TRUE(weft::detail::inject_batches_pay(1024));
    EXPECT_FALSE(weft::detail::inject_batches_pay(1));  // nobody to share a batch with
  }
  {
    weft::test::scoped_environment off("WEFT_INJECT_BATCHES", "0");
    EXPECT_FALSE(weft::detail::inject_batches_pay(2));
  }
  weft::test::scoped_environment bad("WEFT_INJECT_BATCHES", "yes");
  const std::string error = weft::test::runtime_construction_error({.workers = 2});
  EXPECT_NE(error.find("WEFT_INJECT_BATCHES"), std::string::npos) << "error: \"" << error << '"';
}

// Outside tasks, taken in batches (or not), that park, spawn and join:
// each runs exactly once, the pool's wait sees them all, and the shutdown
// drain accounts for every one (a batch's fibers are adopted into the
// registry by the worker that takes it, and other workers may steal them
// from its deque before they first run).
class InjectBatchRuns : public ::testing::TestWithParam<std::tuple<unsigned, bool>> {};

TEST_P(InjectBatchRuns, EveryOutsideTaskRunsOnceWhetherItParksSpawnsOrIsStolen) {
  const auto [workers, batches] = GetParam();
  weft::test::scoped_environment setting("WEFT_INJECT_BATCHES", batches ? "1" : "0");
  const std::size_t tasks = weft::test::scaled(20'000);
  std::vector<std::atomic<int>> runs(tasks);
  std::atomic<std::int64_t> sum{0};
  weft::mutex m;
  std::int64_t guarded = 0;
  {
    weft::thread_pool pool(workers);
    for (std::size_t round = 0; round < 4; ++round) {
      for (std::size_t i = round; i < tasks; i += 4) {
        pool.detach([&, i] {
          runs[i].fetch_add(1, std::memory_order_relaxed);
          switch (i % 4) {
            case 0:
              weft::this_fiber::yield();
              break;
            case 1: {
              const std::lock_guard hold(m);
              ++guarded;
              break;
            }
            case 2:
              sum.fetch_add(weft::spawn([i] { return static_cast<std::int64_t>(i); }).join());
              break;
            default:
              break;
          }
        });
      }
      pool.wait();  // every task of the round is done, the pool reusable
    }
  }  // the destructor's drain: every adopted fiber unlinked
  for (std::size_t i = 0; i < tasks; ++i) ASSERT_EQ(runs[i].load(), 1) << "task " << i;
  std::int64_t expected = 0;
  for (std::size_t i = 2; i < tasks; i += 4) expected += static_cast<std::int64_t>(i);
  EXPECT_EQ(sum.load(), expected);
  EXPECT_EQ(guarded, static_cast<std::int64_t>((tasks + 2) / 4));
}

// One worker never takes batches (nobody to share them with): no instance.
INSTANTIATE_TEST_SUITE_P(WorkersAndBatches, InjectBatchRuns,
                         ::testing::Values(std::tuple{1U, false}, std::tuple{2U, false},
                                           std::tuple{2U, true}, std::tuple{4U, false},
                                           std::tuple{4U, true}, std::tuple{8U, false},
                                           std::tuple{8U, true}),
                         [](const auto& param_info) {
                           return std::to_string(std::get<0>(param_info.param)) + "Workers" +
                                  (std::get<1>(param_info.param) ? "InBatches" : "OneByOne");
                         });

// A fiber that holds its worker's thread until `release` (a plain wait: the
// worker runs nothing else meanwhile), after saying so in `running`.
void hold_thread(std::atomic<bool>& running, const std::atomic<bool>& release) {
  running = true;
  running.notify_all();
  release.wait(false);
}

// With both workers held, ten fibers queue from outside; then one worker
// is let go. Taking one at a time, it runs the first and leaves nine in the
// queue, not yet adopted by any worker. Taking a batch (up to 32), it runs
// the first and queues the other nine in its deque, adopted into the
// registry there, where runtime::fibers() lists them as ready.
std::size_t ready_after_one_take(bool batches) {
  weft::test::scoped_environment setting("WEFT_INJECT_BATCHES", batches ? "1" : "0");
  weft::runtime rt(weft::options{.workers = 2});
  std::atomic<bool> first_held{false}, second_held{false}, probe_running{false};
  std::atomic<bool> release_first{false}, release_second{false}, release_probe{false};
  std::atomic<int> probes_ran{0};
  rt.spawn([&] { hold_thread(first_held, release_first); }).detach();
  first_held.wait(false);
  rt.spawn([&] { hold_thread(second_held, release_second); }).detach();  // the other worker
  second_held.wait(false);
  for (int i = 0; i < 10; ++i) {
    rt.spawn([&] {
        if (probes_ran.fetch_add(1) == 0) hold_thread(probe_running, release_probe);
      }).detach();
  }
  release_second = true;
  release_second.notify_all();
  probe_running.wait(false);  // the first probe holds the worker that took it
  std::size_t ready = 0;
  for (const weft::fiber_info& f : rt.fibers()) ready += f.state == weft::fiber_state::ready;
  for (std::atomic<bool>* release : {&release_probe, &release_first}) {
    *release = true;
    release->notify_all();
  }
  while (rt.stats().alive != 0) std::this_thread::yield();
  EXPECT_EQ(probes_ran.load(), 10);
  return ready;
}

TEST(InjectBatches, AWorkerTakesABatchIntoItsDeque) {
  EXPECT_EQ(ready_after_one_take(false), 0U);
  EXPECT_EQ(ready_after_one_take(true), 9U);
}

}  // namespace
