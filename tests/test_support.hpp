// Helpers shared by the test files.
#pragma once

#include <spawn.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "weft/runtime.hpp"

namespace weft::test {

/// Returns once `rt` shows at least `count` fibers parked in a wait of kind
/// `kind`, polling its fiber list: a condition, not a delay.
inline void wait_until_parked(weft::runtime& rt, std::size_t count,
                              weft::wait_kind kind = weft::wait_kind::io) {
  for (;;) {
    std::size_t parked = 0;
    for (const auto& f : rt.fibers()) {
      if (f.state == weft::fiber_state::parked && f.waiting_on == kind) ++parked;
    }
    if (parked >= count) return;
    std::this_thread::yield();
  }
}

/// Sets an environment variable for one scope, restoring it after.
class scoped_environment {
 public:
  scoped_environment(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~scoped_environment() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  scoped_environment(const scoped_environment&) = delete;
  scoped_environment& operator=(const scoped_environment&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

/// The message of the std::invalid_argument that constructing a runtime with
/// `opts` throws (a bad option, or a bad WEFT_* environment variable); empty
/// if it throws none.
inline std::string runtime_construction_error(weft::options opts) {
  try {
    weft::runtime rt(std::move(opts));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

/// Worker counts every scheduler test runs with (oversubscribed on small
/// machines on purpose: 8 workers on 2 cores exercises preemption by the OS).
inline constexpr unsigned worker_counts[] = {1, 2, 4, 8};

#ifndef WEFT_TEST_SCALE_DOWN
#define WEFT_TEST_SCALE_DOWN 1
#endif

/// Stress sizes: full in plain builds, divided by WEFT_TEST_SCALE_DOWN under
/// sanitizers (10 for ASan, 100 for TSan, whose per-fiber state and atomics
/// cost 10–100× more), so CI's three configurations fit its time budget.
constexpr std::size_t scaled(std::size_t n) {
  const std::size_t s = n / WEFT_TEST_SCALE_DOWN;
  return s > 0 ? s : 1;
}

/// The n-th Fibonacci number (fib(0) = 0), to check fork-join results.
constexpr long long fib_value(int n) {
  long long a = 0, b = 1;
  for (int i = 0; i < n; ++i) {
    const long long next = a + b;
    a = b;
    b = next;
  }
  return a;
}

/// fib(n) as a fork-join tree: spawns fib(n - 1) as a fiber, computes
/// fib(n - 2) inline, joins (the `fib` workload's shape).
inline std::int64_t spawn_fib(int n) {
  if (n < 2) return n;
  auto left = weft::spawn(spawn_fib, n - 1);
  const std::int64_t right = spawn_fib(n - 2);
  return left.join() + right;
}

/// Recurses until `limit` (never reached on a small stack): 1 KiB per
/// frame. For stack-overflow reports.
inline int recurse_deep(int depth, int limit) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  if (depth == limit) return frame[0];
  return recurse_deep(depth + 1, limit) + frame[0];
}

/// Starts `args[0]` with `args` and this process's environment plus
/// `extra` ("NAME=value"), with its descriptors as `actions` says (nullptr:
/// inherited). Returns its pid; throws std::runtime_error if it cannot start.
inline pid_t spawn_with_environment(std::vector<std::string> args, std::vector<std::string> extra,
                                    const posix_spawn_file_actions_t* actions = nullptr) {
  for (char** e = ::environ; *e; ++e) extra.emplace_back(*e);  // <unistd.h>, _GNU_SOURCE
  std::vector<char*> env;
  for (auto& variable : extra) env.push_back(variable.data());
  env.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], actions, nullptr, argv.data(), env.data()) != 0) {
    throw std::runtime_error("cannot start " + args[0]);
  }
  return pid;
}

}  // namespace weft::test
