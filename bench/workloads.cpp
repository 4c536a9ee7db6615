// weft-workloads: the shared benchmark workloads (../shared/workloads.md),
// written for weft. Usage: weft-workloads <workload> [key=value ...]
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "weft/weft.hpp"
#include "workload_support.hpp"

namespace {

using weft::bench::check;
using weft::bench::report;
using weft::bench::warm_then_time_ms;
using weft::bench::workload_args;

// skynet: a 10-ary spawn tree of depth 6 (1,000,000 leaves); a leaf returns
// its ordinal, a parent sums its children.
std::int64_t skynet(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  const std::int64_t part = size / 10;
  weft::join_handle<std::int64_t> children[10];
  for (int i = 0; i < 10; ++i) children[i] = weft::spawn(skynet, num + i * part, part);
  std::int64_t sum = 0;
  for (auto& c : children) sum += c.join();
  return sum;
}

// fib: every call with n >= 2 spawns fib(n-1) as a fiber, computes fib(n-2)
// inline, joins.
std::int64_t fib(int n) {
  if (n < 2) return n;
  auto left = weft::spawn(fib, n - 1);
  const std::int64_t right = fib(n - 2);
  return left.join() + right;
}

std::int64_t fib_expected(int n) {
  std::int64_t a = 0, b = 1;
  for (int i = 0; i < n; ++i) {
    const std::int64_t next = a + b;
    a = b;
    b = next;
  }
  return a;
}

int run_skynet(const workload_args& args) {
  const long workers = args.get("workers", 2);
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(workers)});
  const double ms = warm_then_time_ms([&rt] {
    check(rt.block_on([] { return skynet(0, 1'000'000); }) == 499999500000, "skynet sum");
  });
  report("skynet", workers, ms, "ms");
  return 0;
}

int run_fib(const workload_args& args) {
  const long workers = args.get("workers", 2);
  const int n = static_cast<int>(args.get("n", 30));
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(workers)});
  const double ms = warm_then_time_ms(
      [&rt, n] { check(rt.block_on([n] { return fib(n); }) == fib_expected(n), "fib value"); });
  report("fib" + std::to_string(n), workers, ms, "ms");
  return 0;
}

// yield: two fibers on one worker alternately yield; each switch is one op.
int run_yield(const workload_args& args) {
  constexpr long workers = 1;  // as the peers: the workload is defined on one worker
  const long iters = args.get("iters", 1'000'000);
  weft::runtime rt(weft::options{.workers = workers});
  const double ms = warm_then_time_ms([&rt, iters] {
    // Plain variables are fine: one worker runs one fiber at a time.
    int last = -1;
    long alternations = 0;
    auto body = [&last, &alternations, iters](int me) {
      for (long i = 0; i < iters; ++i) {
        if (last != me) ++alternations;
        last = me;
        weft::this_fiber::yield();
      }
    };
    rt.block_on([&body] {
      auto a = weft::spawn(body, 0);
      auto b = weft::spawn(body, 1);
      a.join();
      b.join();
    });
    check(alternations >= 2 * iters - 2, "yield: the two fibers alternate");
  });
  report("yield", workers, ms * 1e6 / (2.0 * static_cast<double>(iters)), "ns_per_op");
  return 0;
}

// skynet_chan: the original skynet; each parent makes a channel, its
// children send their sums on it, the parent receives 10 values.
void skynet_chan(weft::channel<std::int64_t> out, std::int64_t num, std::int64_t size) {
  if (size == 1) {
    out.send(num);
    return;
  }
  const std::int64_t part = size / 10;
  weft::channel<std::int64_t> sums(10);
  for (int i = 0; i < 10; ++i) weft::spawn(skynet_chan, sums, num + i * part, part).detach();
  std::int64_t total = 0;
  for (int i = 0; i < 10; ++i) total += *sums.recv();
  out.send(total);
}

int run_skynet_chan(const workload_args& args) {
  const long workers = args.get("workers", 2);
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(workers)});
  const double ms = warm_then_time_ms([&rt] {
    const std::int64_t sum = rt.block_on([] {
      weft::channel<std::int64_t> result(1);
      skynet_chan(result, 0, 1'000'000);
      return *result.recv();
    });
    check(sum == 499999500000, "skynet_chan sum");
  });
  report("skynet_chan", workers, ms, "ms");
  return 0;
}

// pingpong: two fibers exchange an int over two unbuffered channels.
int run_pingpong(const workload_args& args) {
  const long workers = args.get("workers", 2);
  const long rounds = args.get("rounds", 1'000'000);
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(workers)});
  const double ms = warm_then_time_ms([&rt, rounds] {
    weft::channel<long> ping, pong;
    auto echo = rt.spawn([ping, pong, rounds]() mutable {
      for (long i = 0; i < rounds; ++i) pong.send(*ping.recv() + 1);
    });
    const bool ok = rt.block_on([ping, pong, rounds]() mutable {
      bool good = true;
      for (long i = 0; i < rounds; ++i) {
        ping.send(i);
        good = good && *pong.recv() == i + 1;
      }
      return good;
    });
    echo.join();
    check(ok, "pingpong values");
  });
  report("pingpong", workers, ms * 1e6 / static_cast<double>(rounds), "ns_per_op");
  return 0;
}

// mutex: `fibers` fibers each lock, increment a shared counter, unlock, `iters` times.
int run_mutex(const workload_args& args) {
  const long workers = args.get("workers", 2);
  const long fibers = args.get("fibers", 1000);
  const long iters = args.get("iters", 1000);
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(workers)});
  const double ms = warm_then_time_ms([&rt, fibers, iters] {
    weft::mutex m;
    long counter = 0;
    rt.block_on([&] {
      weft::wait_group wg;
      wg.add(fibers);
      for (long f = 0; f < fibers; ++f) {
        weft::spawn([&] {
          for (long i = 0; i < iters; ++i) {
            std::lock_guard<weft::mutex> hold(m);
            ++counter;
          }
          wg.done();
        }).detach();
      }
      wg.wait();
    });
    check(counter == fibers * iters, "mutex counter");
  });
  report("mutex", workers, ms, "ms");
  return 0;
}

// fanout_work: the per-item work of fanout, four rounds of splitmix64
// (the same function as the peers' common.hpp).
std::uint64_t fanout_work(std::uint64_t x) {
  for (int r = 0; r < 4; ++r) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
  }
  return x;
}

// Computes (without parking or yielding) for `d`.
void busy_for(std::chrono::microseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

// fanout: one producer sends 0..items-1 on a channel of capacity `cap`;
// `stages` fibers receive, compute fanout_work(v) & 1023 and send on a second
// channel of capacity `cap`; one sink sums. The second channel closes when
// every stage is done. `stage_us` (not in the peers' workload, default 0)
// adds that much busy computing per item in each stage: a CPU-heavy
// pipeline, whose stages should spread over the workers.
int run_fanout(const workload_args& args) {
  const long workers = args.get("workers", 2);
  const long items = args.get("items", 500'000);
  const long stages = args.get("stages", 8);
  const long cap = args.get("cap", 16);
  const long stage_us = args.get("stage_us", 0);
  check(items >= 0 && stages >= 1 && cap >= 0 && stage_us >= 0,
        "fanout: items >= 0, stages >= 1, cap >= 0, stage_us >= 0");
  std::int64_t want = 0;
  for (long i = 0; i < items; ++i) {
    want += static_cast<std::int64_t>(fanout_work(static_cast<std::uint64_t>(i)) & 1023);
  }
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(workers)});
  const double ms = warm_then_time_ms([&rt, items, stages, cap, stage_us, want] {
    const std::int64_t sum = rt.block_on([items, stages, cap, stage_us] {
      weft::channel<std::int64_t> in(static_cast<std::size_t>(cap));
      weft::channel<std::int64_t> out(static_cast<std::size_t>(cap));
      weft::spawn([in, items]() mutable {
        for (long i = 0; i < items; ++i) in.send(i);
        in.close();
      }).detach();
      auto stages_done = std::make_shared<weft::wait_group>();
      stages_done->add(stages);
      for (long s = 0; s < stages; ++s) {
        weft::spawn([in, out, stages_done, stage_us]() mutable {
          for (std::int64_t v : in) {
            if (stage_us > 0) busy_for(std::chrono::microseconds(stage_us));
            out.send(static_cast<std::int64_t>(fanout_work(static_cast<std::uint64_t>(v)) & 1023));
          }
          stages_done->done();
        }).detach();
      }
      weft::spawn([out, stages_done]() mutable {
        stages_done->wait();
        out.close();
      }).detach();
      std::int64_t total = 0;
      for (std::int64_t v : out) total += v;
      return total;
    });
    check(sum == want, "fanout sum");
  });
  report("fanout", workers, ms, "ms");
  return 0;
}

// sleep: `fibers` fibers each sleep `ms`, then finish (peak RSS is measured
// outside, e.g. with /usr/bin/time -f %M).
int run_sleep(const workload_args& args) {
  const long workers = args.get("workers", 2);
  const long fibers = args.get("fibers", 100'000);
  const long sleep_ms = args.get("ms", 10);
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(workers)});
  const double ms = warm_then_time_ms([&rt, fibers, sleep_ms] {
    std::atomic<long> done{0};
    rt.block_on([&] {
      weft::wait_group wg;
      wg.add(fibers);
      for (long i = 0; i < fibers; ++i) {
        weft::spawn([&] {
          weft::this_fiber::sleep_for(std::chrono::milliseconds(sleep_ms));
          done.fetch_add(1, std::memory_order_relaxed);
          wg.done();
        }).detach();
      }
      wg.wait();
    });
    check(done.load() == fibers, "sleep count");
  });
  report("sleep", workers, ms, "ms");
  return 0;
}

// parked: `fibers` fibers each block receiving on its own channel; RSS growth
// while all are parked, per fiber. Measured cold (a warm-up would leave
// stacks resident and hide the growth), as the peers do.
int run_parked(const workload_args& args) {
  const long workers = args.get("workers", 2);
  const long fibers = args.get("fibers", 100'000);
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(workers)});
  std::vector<weft::channel<long>> chans;
  chans.reserve(static_cast<std::size_t>(fibers));
  for (long i = 0; i < fibers; ++i) chans.emplace_back();
  std::atomic<long> sum{0};
  weft::wait_group ready, finished;
  ready.add(fibers);
  finished.add(fibers);
  const long before = weft::bench::rss_kib();
  for (long i = 0; i < fibers; ++i) {
    rt.spawn([&, ch = chans[static_cast<std::size_t>(i)]]() mutable {
        ready.done();
        sum.fetch_add(*ch.recv(), std::memory_order_relaxed);
        finished.done();
      }).detach();
  }
  ready.wait();
  // Every fiber has started; wait until each one is parked on its channel.
  while (rt.stats().parks < static_cast<std::uint64_t>(fibers)) std::this_thread::yield();
  const long after = weft::bench::rss_kib();
  for (long i = 0; i < fibers; ++i) chans[static_cast<std::size_t>(i)].send(i);
  finished.wait();
  check(sum.load() == fibers * (fibers - 1) / 2, "parked sum");
  report("parked", workers, static_cast<double>(after - before) / static_cast<double>(fibers),
         "KiB_per_fiber");
  return 0;
}

// pool: one outside thread submits `tasks` tiny tasks (a relaxed fetch_add
// each) to a thread_pool of `workers` threads via detach, then waits.
int run_pool(const workload_args& args) {
  const long workers = args.get("workers", 2);
  const long tasks = args.get("tasks", 1'000'000);
  weft::thread_pool pool(static_cast<unsigned>(workers));
  const double ms = warm_then_time_ms([&pool, tasks] {
    std::atomic<long> counter{0};
    for (long i = 0; i < tasks; ++i) {
      pool.detach([&counter] { counter.fetch_add(1, std::memory_order_relaxed); });
    }
    pool.wait();
    check(counter.load() == tasks, "pool counter");
  });
  report("pool", workers, static_cast<double>(tasks) / (ms / 1000.0), "ops_per_s");
  return 0;
}

// generator: a weft::generator yields 0..items-1 to a consumer on the
// calling thread (no runtime: generators work on plain threads), which sums
// them. The peer is Boost.Coroutine2's pull_type (bench/coroutine2_generator.cpp).
int run_generator(const workload_args& args) {
  const long items = args.get("items", 1'000'000);
  const double ms = warm_then_time_ms([items] {
    weft::generator<long> values([items](weft::yield_to<long>& yield) {
      for (long i = 0; i < items; ++i) yield(i);
    });
    long sum = 0;
    for (const long v : values) sum += v;
    check(sum == items * (items - 1) / 2, "generator sum");
  });
  report("generator", 1, ms * 1e6 / static_cast<double>(items), "ns_per_value");
  return 0;
}

// nqueens: count the solutions, one fiber per valid placement in rows <
// cutoff, sequential below (bitmask search, as the peers).
std::int64_t queens_sequential(int n, int row, std::uint32_t cols, std::uint32_t d1,
                               std::uint32_t d2) {
  if (row == n) return 1;
  const std::uint32_t full = (std::uint32_t{1} << n) - 1;
  std::uint32_t avail = ~(cols | d1 | d2) & full;
  std::int64_t count = 0;
  while (avail != 0) {
    const std::uint32_t bit = avail & (~avail + 1);
    avail ^= bit;
    count += queens_sequential(n, row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
  }
  return count;
}

std::int64_t queens(int n, int row, std::uint32_t cols, std::uint32_t d1, std::uint32_t d2,
                    int cutoff) {
  if (row == n) return 1;
  if (row >= cutoff) return queens_sequential(n, row, cols, d1, d2);
  const std::uint32_t full = (std::uint32_t{1} << n) - 1;
  std::uint32_t avail = ~(cols | d1 | d2) & full;
  weft::join_handle<std::int64_t> children[32];
  int k = 0;
  while (avail != 0) {
    const std::uint32_t bit = avail & (~avail + 1);
    avail ^= bit;
    children[k++] =
        weft::spawn(queens, n, row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1, cutoff);
  }
  std::int64_t sum = 0;
  for (int i = 0; i < k; ++i) sum += children[i].join();
  return sum;
}

int run_nqueens(const workload_args& args) {
  static constexpr std::int64_t expected[] = {
      1, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712, 365596, 2279184, 14772512};
  const long workers = args.get("workers", 2);
  const int n = static_cast<int>(args.get("n", 11));
  const int cutoff = static_cast<int>(args.get("cutoff", n));
  check(n >= 1 && n <= 16, "nqueens: n in [1, 16]");
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(workers)});
  const double ms = warm_then_time_ms([&rt, n, cutoff] {
    check(rt.block_on([n, cutoff] { return queens(n, 0, 0, 0, 0, cutoff); }) == expected[n],
          "nqueens count");
  });
  report("nqueens" + std::to_string(n), workers, ms, "ms");
  return 0;
}

struct workload {
  const char* name;
  int (*run)(const workload_args&);
};

constexpr workload workloads[] = {
    {"skynet", &run_skynet},     {"fib", &run_fib},
    {"yield", &run_yield},       {"skynet_chan", &run_skynet_chan},
    {"pingpong", &run_pingpong}, {"mutex", &run_mutex},
    {"sleep", &run_sleep},       {"parked", &run_parked},
    {"pool", &run_pool},         {"nqueens", &run_nqueens},
    {"fanout", &run_fanout},     {"generator", &run_generator},
};

}  // namespace

int main(int argc, char** argv) {
  const workload_args args = weft::bench::parse_args(argc, argv);
  for (const workload& w : workloads) {
    if (args.workload == w.name) return w.run(args);
  }
  std::fprintf(stderr, "weft-workloads: unknown workload '%s'; known:", args.workload.c_str());
  for (const workload& w : workloads) std::fprintf(stderr, " %s", w.name);
  std::fprintf(stderr, "\n");
  return 2;
}
