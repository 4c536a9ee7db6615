// weft-showcase: a few workloads on weft fibers next to the same code on
// plain std::threads, with the speedup. Run by tools/quickstart.sh.
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <thread>
#include <vector>

#include "weft/weft.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

double time_ms(const std::function<void()>& body) {
  body();  // warm-up
  const auto start = clock_type::now();
  body();
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

// ---- a 10-ary spawn tree: every node a fiber / a thread

std::int64_t tree_fibers(std::int64_t first, std::int64_t leaves) {
  if (leaves == 1) return first;
  const std::int64_t part = leaves / 10;
  weft::join_handle<std::int64_t> kids[10];
  for (int i = 0; i < 10; ++i) kids[i] = weft::spawn(tree_fibers, first + i * part, part);
  std::int64_t sum = 0;
  for (auto& k : kids) sum += k.join();
  return sum;
}

std::int64_t tree_threads(std::int64_t first, std::int64_t leaves) {
  if (leaves == 1) return first;
  const std::int64_t part = leaves / 10;
  std::int64_t sums[10];
  std::vector<std::thread> kids;
  for (int i = 0; i < 10; ++i) {
    kids.emplace_back([&sums, i, first, part] { sums[i] = tree_threads(first + i * part, part); });
  }
  std::int64_t sum = 0;
  for (int i = 0; i < 10; ++i) {
    kids[static_cast<std::size_t>(i)].join();
    sum += sums[i];
  }
  return sum;
}

// ---- fork-join fib: spawn fib(n-1), compute fib(n-2), join

std::int64_t fib_fibers(int n) {
  if (n < 2) return n;
  auto left = weft::spawn(fib_fibers, n - 1);
  const std::int64_t right = fib_fibers(n - 2);
  return left.join() + right;
}

std::int64_t fib_threads(int n) {
  if (n < 2) return n;
  std::int64_t left = 0;
  std::thread t([&left, n] { left = fib_threads(n - 1); });
  const std::int64_t right = fib_threads(n - 2);
  t.join();
  return left + right;
}

// ---- many concurrent sleepers

void sleepers_fibers(int count) {
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < count; ++i)
    hs.push_back(weft::spawn([] { weft::this_fiber::sleep_for(10ms); }));
  for (auto& h : hs) h.join();
}

void sleepers_threads(int count) {
  std::vector<std::thread> ts;
  for (int i = 0; i < count; ++i) ts.emplace_back([] { std::this_thread::sleep_for(10ms); });
  for (auto& t : ts) t.join();
}

// ---- two tasks taking turns on one core

void yield_fibers(int rounds) {
  auto body = [rounds] {
    for (int i = 0; i < rounds; ++i) weft::this_fiber::yield();
  };
  auto a = weft::spawn(body);
  auto b = weft::spawn(body);
  a.join();
  b.join();
}

void yield_threads(int rounds) {
  // Both threads pinned to CPU 0 so they really take turns on one core.
  auto body = [rounds] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
    for (int i = 0; i < rounds; ++i) sched_yield();
  };
  std::thread a(body), b(body);
  a.join();
  b.join();
}

void row(const char* name, double weft_ms, double thread_ms) {
  std::printf("| %-34s | %10.2f | %12.2f | %7.1fx |\n", name, weft_ms, thread_ms,
              thread_ms / weft_ms);
}

}  // namespace

int main() {
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  weft::runtime rt(weft::options{.workers = cores});
  weft::runtime one(weft::options{.workers = 1});
  std::printf(
      "weft showcase: %u workers (one per core), times in ms, one timed run after a warm-up\n\n",
      cores);
  std::printf("| %-34s | %10s | %12s | %8s |\n", "workload", "weft", "std::thread", "speedup");
  std::printf("|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(12, '-').c_str(),
              std::string(14, '-').c_str(), std::string(10, '-').c_str());
  std::int64_t a = 0, b = 0;
  row("spawn tree, 1,111 tasks",
      time_ms([&] { a = rt.block_on([] { return tree_fibers(0, 1000); }); }),
      time_ms([&] { b = tree_threads(0, 1000); }));
  if (a != b || a != 499500) return 1;
  row("fork-join fib(18), 4,180 tasks",
      time_ms([&] { a = rt.block_on([] { return fib_fibers(18); }); }),
      time_ms([&] { b = fib_threads(18); }));
  if (a != b || a != 2584) return 1;
  row("1,000 tasks sleeping 10 ms at once",
      time_ms([&] { rt.block_on([] { sleepers_fibers(1000); }); }),
      time_ms([] { sleepers_threads(1000); }));
  row("2 tasks x 100,000 yields, one core",
      time_ms([&] { one.block_on([] { yield_fibers(100'000); }); }),
      time_ms([] { yield_threads(100'000); }));
  std::printf("\nweft, 1,111,111 fibers (skynet): ");
  const double skynet_ms =
      time_ms([&] { a = rt.block_on([] { return tree_fibers(0, 1'000'000); }); });
  std::printf("%.1f ms, sum %lld\n", skynet_ms, static_cast<long long>(a));
  return a == 499999500000 ? 0 : 1;
}
