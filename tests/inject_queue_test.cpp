// White-box tests of the inject queue (inject_queue.hpp): a lock-free inbox
// that producers push on, an outbox that consumers take from in order.
#include "scheduler/inject_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

struct node {
  node* next_in_list = nullptr;
  int producer = 0;
  int sequence = 0;
  std::atomic<int> taken{0};
};

using queue = weft::detail::intrusive_inject_queue<node>;

node* pop(queue& q) {
  bool left_batch = false;
  return q.pop(left_batch);
}

TEST(InjectQueue, APopThatLeavesPartOfTheInboxSaysSo) {
  // Whoever takes the inbox and leaves fibers behind must notify: others
  // may have read the queue as empty meanwhile.
  queue q;
  std::vector<node> nodes(3);
  for (node& n : nodes) q.push(&n);
  bool left_batch = false;
  EXPECT_EQ(q.pop(left_batch), &nodes[0]);
  EXPECT_TRUE(left_batch);
  EXPECT_EQ(q.pop(left_batch), &nodes[1]);
  EXPECT_FALSE(left_batch);  // from the outbox: nothing newly hidden
  EXPECT_EQ(q.pop(left_batch), &nodes[2]);
  EXPECT_FALSE(left_batch);
  q.push(&nodes[0]);
  EXPECT_EQ(q.pop(left_batch), &nodes[0]);
  EXPECT_FALSE(left_batch);  // took the inbox, but all of it
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
  // Pushes while the outbox still holds older fibers come after them.
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

// Producers push concurrently while consumers pop: every node is taken
// exactly once, and each consumer sees each producer's nodes in order.
void run_producers_and_consumers(int producers, int consumers) {
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
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&] {
      std::vector<int> last_seen(producers, -1);
      for (;;) {
        // Read before the pop: if no producer was left then and the queue
        // is empty now, every push is visible and taken.
        const bool all_pushed = producers_left.load() == 0;
        node* n = pop(q);
        if (n == nullptr) {
          if (all_pushed && q.probably_empty()) return;
          std::this_thread::yield();
          continue;
        }
        n->taken.fetch_add(1);
        if (n->sequence <= last_seen[n->producer]) in_order = false;
        last_seen[n->producer] = n->sequence;
        taken.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(taken.load(), static_cast<long>(producers) * per_producer);
  EXPECT_TRUE(in_order.load());
  for (const auto& per : nodes) {
    for (const node& n : per) ASSERT_EQ(n.taken.load(), 1) << n.producer << " " << n.sequence;
  }
}

TEST(InjectQueue, ManyProducersOneConsumer) { run_producers_and_consumers(4, 1); }
TEST(InjectQueue, ManyProducersManyConsumers) { run_producers_and_consumers(4, 3); }

}  // namespace
