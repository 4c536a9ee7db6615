// A stackful generator: the in-order walk of a binary search tree, written
// as the plain recursive function it is, yielding from every depth of the
// recursion (a stackless std::generator would need a generator per level).
// Then the same generator's body waiting inside a fiber: it reads its input
// from a channel, and the consuming fiber parks meanwhile.
// Exits 0 if both sequences come out right.
#include <memory>
#include <vector>
#include <weft/weft.hpp>

namespace {

struct node {
  int key;
  std::unique_ptr<node> left, right;
};

void insert(std::unique_ptr<node>& at, int key) {
  if (!at) {
    at = std::make_unique<node>(node{key, nullptr, nullptr});
  } else {
    insert(key < at->key ? at->left : at->right, key);
  }
}

// An ordinary recursive function: yield is passed down like any argument.
void in_order(const node* n, weft::yield_to<int>& yield) {
  if (!n) return;
  in_order(n->left.get(), yield);
  yield(n->key);
  in_order(n->right.get(), yield);
}

}  // namespace

int main() {
  std::unique_ptr<node> root;
  for (const int key : {50, 30, 70, 20, 40, 60, 80, 35, 65}) insert(root, key);

  weft::generator<int> keys([&root](weft::yield_to<int>& yield) { in_order(root.get(), yield); });
  std::vector<int> sorted;
  for (const int key : keys) sorted.push_back(key);
  const bool walk_ok = sorted == std::vector<int>{20, 30, 35, 40, 50, 60, 65, 70, 80};

  // In a fiber, the body may wait like any fiber: here on a channel.
  weft::runtime rt(weft::options{.workers = 2});
  const int total = rt.block_on([] {
    weft::channel<int> input(2);
    auto producer = weft::spawn([input]() mutable {
      for (int i = 1; i <= 100; ++i) input.send(i);
      input.close();
    });
    weft::generator<int> squares([input](weft::yield_to<int>& yield) mutable {
      while (const auto v = input.recv()) yield(*v * *v);  // recv parks the consumer
    });
    int sum = 0;
    for (const int s : squares) sum += s;
    producer.join();
    return sum;
  });
  return walk_ok && total == 338350 ? 0 : 1;
}
