// The `generator` workload (bench/workloads.cpp) written with Boost.Coroutine2,
// the peer docs/benchmarks.md compares weft::generator with: a pull_type
// yields 0..items-1 to its consumer, which sums them; ns per value.
//
//   coroutine2-generator generator [items=N]
#include <boost/coroutine2/coroutine.hpp>
#include <string>

#include "workload_support.hpp"

int main(int argc, char** argv) {
  using weft::bench::check;
  const weft::bench::workload_args args = weft::bench::parse_args(argc, argv);
  check(args.workload == "generator", "the only workload here is generator");
  const long items = args.get("items", 1'000'000);
  using coroutine = boost::coroutines2::coroutine<long>;
  const double ms = weft::bench::warm_then_time_ms([items] {
    coroutine::pull_type values([items](coroutine::push_type& yield) {
      for (long i = 0; i < items; ++i) yield(i);
    });
    long sum = 0;
    for (const long v : values) sum += v;
    check(sum == items * (items - 1) / 2, "generator sum");
  });
  weft::bench::report("generator", 1, ms * 1e6 / static_cast<double>(items), "ns_per_value",
                      "coroutine2");
  return 0;
}
