// Argument parsing, timing, checking and the report line of weft-workloads.
// Output format and semantics match the peers (../shared/peers/common.hpp):
//   workload=<name> impl=weft workers=<n> value=<number> unit=<unit>
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>

namespace weft::bench {

/// `<workload> key=value ...` from the command line.
struct workload_args {
  std::string workload;
  std::map<std::string, std::string> values;

  /// The integer value of `key`, or `fallback` when absent. Exits with status
  /// 2 and a message when the value is not a number.
  [[nodiscard]] long get(const std::string& key, long fallback) const {
    const auto it = values.find(key);
    if (it == values.end()) return fallback;
    try {
      std::size_t used = 0;
      const long v = std::stol(it->second, &used);
      if (used == it->second.size()) return v;
    } catch (const std::exception&) {
    }
    std::fprintf(stderr, "weft-workloads: %s=%s is not a number\n", key.c_str(),
                 it->second.c_str());
    std::exit(2);
  }
};

inline workload_args parse_args(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <workload> [key=value ...]\n", argv[0]);
    std::exit(2);
  }
  workload_args a;
  a.workload = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string s = argv[i];
    const auto eq = s.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "weft-workloads: bad argument '%s' (expected key=value)\n", argv[i]);
      std::exit(2);
    }
    a.values[s.substr(0, eq)] = s.substr(eq + 1);
  }
  return a;
}

/// Exits with status 1 and a message when a workload's result is wrong.
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "CHECK FAILED: %s\n", what);
    std::exit(1);
  }
}

/// Runs `body` once as a warm-up, then once timed; returns the timed ms.
template <class F>
double warm_then_time_ms(F&& body) {
  body();
  const auto start = std::chrono::steady_clock::now();
  body();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

/// Resident set size of this process in KiB (from /proc/self/statm).
inline long rss_kib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (f) {
    if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * 4;  // pages of 4 KiB (x86-64 and AArch64 Linux defaults)
}

inline void report(const std::string& workload, long workers, double value, const char* unit,
                   const char* impl = "weft") {
  std::printf("workload=%s impl=%s workers=%ld value=%.3f unit=%s\n", workload.c_str(), impl,
              workers, value, unit);
}

}  // namespace weft::bench
