// weft-workloads: the shared benchmark workloads (../shared/workloads.md),
// written for weft. Usage: weft-workloads <workload> [key=value ...]
#include <cstdint>
#include <cstdio>
#include <string>

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

struct workload {
  const char* name;
  int (*run)(const workload_args&);
};

constexpr workload workloads[] = {
    {"skynet", &run_skynet},
    {"fib", &run_fib},
    {"yield", &run_yield},
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
