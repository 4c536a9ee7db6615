// weft::thread_pool as a drop-in replacement for the single-header
// ThreadPool: the same calls, plus tasks that wait for other tasks.
//
// With a classic pool of N threads, a task that blocks on another task's
// future ties up a thread; N such tasks deadlock the pool. Here each task is
// a fiber and future::get() parks it, so the recursion below runs on a pool
// of ONE thread. Exits 0 if every result is right.
#include <atomic>
#include <cstdio>
#include <future>
#include <vector>
#include <weft/weft.hpp>

// Sums [first, last) by splitting it in two subtasks and waiting for both.
long sum_range(weft::thread_pool& pool, long first, long last) {
  if (last - first <= 1000) {
    long s = 0;
    for (long i = first; i < last; ++i) s += i;
    return s;
  }
  const long mid = first + (last - first) / 2;
  auto left = pool.submit(sum_range, std::ref(pool), first, mid);
  auto right = pool.submit(sum_range, std::ref(pool), mid, last);
  return left.get() + right.get();  // parks this task; the thread runs others
}

int main() {
  weft::thread_pool pool(1);  // one thread, nested waits 10 levels deep

  // 1. The single-header ThreadPool idiom, unchanged: enqueue + std::future.
  std::vector<std::future<int>> squares;
  for (int i = 0; i < 8; ++i) squares.push_back(pool.enqueue([](int x) { return x * x; }, i));
  int total = 0;
  for (auto& f : squares) total += f.get();

  // 2. Tasks waiting on tasks: fine even with one thread.
  const long n = 1'000'000;
  const long sum = pool.submit(sum_range, std::ref(pool), 0L, n).get();

  // 3. Fire and forget, then wait for everything (BS::thread_pool style).
  std::atomic<int> done{0};
  for (int i = 0; i < 100; ++i) pool.detach([&done] { done.fetch_add(1); });
  pool.wait();

  const bool ok = total == 140 && sum == n * (n - 1) / 2 && done.load() == 100;
  std::printf("squares %d, sum %ld, detached %d: %s\n", total, sum, done.load(),
              ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
