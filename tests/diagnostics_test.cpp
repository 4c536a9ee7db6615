// Diagnostics (docs/diagnostics.md): stacks of fibers, dumps, the dump
// signal. Built with -g, as the plain "-O2 -g" program the contract names.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

extern char** environ;

namespace {

weft::fiber_info find_fiber(const std::vector<weft::fiber_info>& fibers, weft::fiber_id id) {
  for (const auto& f : fibers) {
    if (f.id == id) return f;
  }
  ADD_FAILURE() << "fiber " << id << " not listed";
  return {};
}

std::size_t frames_named(const weft::fiber_info& f, const std::string& part) {
  return static_cast<std::size_t>(std::count_if(f.stack.begin(), f.stack.end(), [&](const auto& s) {
    return s.function.find(part) != std::string::npos;
  }));
}

// Recurses `depth` times, then waits for `m`: a stack with known frames.
[[gnu::noinline]] void descend_then_lock(weft::mutex& m, int depth) {
  if (depth > 0) {
    descend_then_lock(m, depth - 1);
    asm volatile("" ::: "memory");  // not a tail call: every level keeps its frame
    return;
  }
  const std::lock_guard hold(m);
}

class Diagnostics : public ::testing::TestWithParam<unsigned> {
 protected:
  weft::runtime rt{weft::options{.workers = GetParam()}};
};

TEST_P(Diagnostics, StackOfAParkedFiberNamesItsFunctionsAndLines) {
  weft::mutex m;
  m.lock();
  auto h = rt.spawn(weft::spawn_options{.name = "descender"}, [&m] { descend_then_lock(m, 4); });
  weft::test::wait_until_parked(rt, 1, weft::wait_kind::mutex);
  const weft::fiber_info f = find_fiber(rt.fibers(weft::fiber_detail::stacks), h.id());
  m.unlock();
  h.join();
  EXPECT_EQ(f.name, "descender");
  EXPECT_EQ(f.state, weft::fiber_state::parked);
  ASSERT_FALSE(f.stack.empty());
  // The runtime's own frames are left out: the dump starts at the public call.
  EXPECT_EQ(f.stack.front().function, "weft::mutex::lock()");
  EXPECT_EQ(frames_named(f, "descend_then_lock"), 5u);
  const auto own = std::find_if(f.stack.begin(), f.stack.end(), [](const auto& s) {
    return s.function.find("descend_then_lock") != std::string::npos;
  });
  ASSERT_NE(own, f.stack.end());
  EXPECT_NE(own->file.find("diagnostics_test.cpp"), std::string::npos) << own->file;
  EXPECT_GT(own->line, 0u);
  EXPECT_NE(own->address, 0u);
}

TEST_P(Diagnostics, JoinWaitNamesTheJoinedFiber) {
  weft::mutex m;
  m.lock();
  auto child = rt.spawn([&m] { const std::lock_guard hold(m); });
  const weft::fiber_id child_id = child.id();
  auto joiner = rt.spawn([&child] { child.join(); });
  weft::test::wait_until_parked(rt, 1, weft::wait_kind::join);
  const weft::fiber_info f = find_fiber(rt.fibers(), joiner.id());
  m.unlock();
  joiner.join();
  EXPECT_EQ(f.waiting_on, weft::wait_kind::join);
  EXPECT_EQ(f.blocked_by, child_id);
  EXPECT_LT(f.worker, GetParam());
}

TEST_P(Diagnostics, SummaryHasNoStacksAndRunningFibersNone) {
  std::atomic<bool> release{false};
  std::atomic<bool> running{false};
  auto spinner = rt.spawn([&] {
    running.store(true);
    while (!release.load()) std::this_thread::yield();  // runs without switching
  });
  while (!running.load()) std::this_thread::yield();
  const weft::fiber_info summary = find_fiber(rt.fibers(), spinner.id());
  const weft::fiber_info detailed = find_fiber(rt.fibers(weft::fiber_detail::stacks), spinner.id());
  release.store(true);
  spinner.join();
  EXPECT_TRUE(summary.stack.empty());
  EXPECT_EQ(detailed.state, weft::fiber_state::running);
  EXPECT_TRUE(detailed.stack.empty());
  EXPECT_LT(detailed.worker, GetParam());
}

// Fibers keep switching while another thread dumps them over and over: the
// pin protocol (runtime/diagnostics/fiber_inspection.hpp) must never let a
// stack be read while it runs, nor lose or delay a wake-up for good.
TEST_P(Diagnostics, FibersRunOnWhileTheirStacksAreRead) {
  constexpr int pairs = 8;
  const long rounds = static_cast<long>(weft::test::scaled(2000));
  std::atomic<bool> done{false};
  std::atomic<long> dumps{0};
  std::thread inspector([&] {
    while (!done.load()) {
      std::ostringstream out;
      rt.dump(out);
      dumps.fetch_add(1);
    }
  });
  const long total = rt.block_on([rounds] {
    std::vector<weft::join_handle<long>> hs;
    for (int p = 0; p < pairs; ++p) {
      weft::channel<long> ping(0), pong(0);
      hs.push_back(weft::spawn([ping, pong, rounds]() mutable {
        long sum = 0;
        for (long i = 0; i < rounds; ++i) {
          ping.send(i);
          sum += *pong.recv();
        }
        return sum;
      }));
      hs.push_back(weft::spawn([ping, pong, rounds]() mutable {
        for (long i = 0; i < rounds; ++i) pong.send(*ping.recv() + 1);
        return 0L;
      }));
    }
    long sum = 0;
    for (auto& h : hs) sum += h.join();
    return sum;
  });
  while (dumps.load() == 0) std::this_thread::yield();  // at least one overlapped or followed
  done.store(true);
  inspector.join();
  EXPECT_EQ(total, pairs * (rounds * (rounds - 1) / 2 + rounds));
}

TEST_P(Diagnostics, DumpWritesEveryFiberWithItsWait) {
  weft::mutex m;
  m.lock();
  auto h = rt.spawn(weft::spawn_options{.name = "stuck"}, [&m] { descend_then_lock(m, 1); });
  const weft::fiber_id id = h.id();
  weft::test::wait_until_parked(rt, 1, weft::wait_kind::mutex);
  std::ostringstream out;
  rt.dump(out);
  m.unlock();
  h.join();
  const std::string text = out.str();
  EXPECT_NE(text.find("weft runtime \"weft\": " + std::to_string(GetParam()) + " workers"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("fiber " + std::to_string(id.value()) + " \"stuck\": parked on mutex"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("#0 weft::mutex::lock()"), std::string::npos) << text;
  EXPECT_NE(text.find("descend_then_lock(weft::mutex&, int) at "), std::string::npos) << text;
}

INSTANTIATE_TEST_SUITE_P(Workers, Diagnostics, ::testing::ValuesIn(weft::test::worker_counts),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

// A child run inline by its joiner (runtime/scheduler/inline_join.hpp) that
// parks: its stack shows its own frames above the joiner's; the joiner's
// own entry has none (its stack is the child's). One worker: nobody can
// steal the child before its join, so it surely runs inline.
TEST(DiagnosticsInline, InlineChildShowsItsJoinerBelowIt) {
  weft::runtime rt(weft::options{.workers = 1});
  weft::mutex m;
  m.lock();
  std::atomic<std::uint64_t> child_id{0};
  auto joiner = rt.spawn([&] {
    auto child = weft::spawn([&m] { descend_then_lock(m, 2); });
    child_id.store(child.id().value());
    child.join();  // still in this worker's deque: runs inline, then parks on m
  });
  weft::test::wait_until_parked(rt, 1, weft::wait_kind::mutex);
  const auto fibers = rt.fibers(weft::fiber_detail::stacks);
  const weft::fiber_info child = find_fiber(fibers, weft::fiber_id(child_id.load()));
  const weft::fiber_info host = find_fiber(fibers, joiner.id());
  m.unlock();
  joiner.join();
  EXPECT_EQ(frames_named(child, "descend_then_lock"), 3u);
  EXPECT_EQ(frames_named(child, "weft::join_handle<void>::join()"), 1u)
      << "the joiner's frames lie below the child's";
  EXPECT_EQ(host.waiting_on, weft::wait_kind::join);
  EXPECT_TRUE(host.stack.empty());
}

TEST(DumpAll, CoversEveryRuntime) {
  weft::runtime first(weft::options{.workers = 1, .name = "first"});
  weft::runtime second(weft::options{.workers = 2, .name = "second"});
  std::ostringstream out;
  weft::dump_all(out);
  EXPECT_NE(out.str().find("weft runtime \"first\": 1 workers"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("weft runtime \"second\": 2 workers"), std::string::npos) << out.str();
}

TEST(DumpSignal, RejectsSignalsThatCannotBeCaught) {
  EXPECT_THROW(weft::install_dump_signal(SIGKILL), std::invalid_argument);
  EXPECT_THROW(weft::install_dump_signal(SIGSTOP), std::invalid_argument);
  EXPECT_THROW(weft::install_dump_signal(0), std::invalid_argument);
  EXPECT_THROW(weft::install_dump_signal(NSIG), std::invalid_argument);
}

// End to end: the stuck example (docs/examples/stuck_fibers.cpp) deadlocks,
// gets SIGQUIT with WEFT_DUMP_SIGNAL=QUIT, writes the dump and keeps running.
TEST(DumpSignal, StuckProcessDumpsOnSigquitAndKeepsRunning) {
  int out_pipe[2], err_pipe[2];
  ASSERT_EQ(pipe(out_pipe), 0);
  ASSERT_EQ(pipe(err_pipe), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<std::string> env_strings{"WEFT_DUMP_SIGNAL=QUIT"};
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> env;
  for (auto& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  std::string program = WEFT_STUCK_FIBERS_EXAMPLE;
  std::string wait_flag = "--wait";
  char* argv[] = {program.data(), wait_flag.data(), nullptr};
  pid_t child = 0;
  ASSERT_EQ(posix_spawn(&child, program.c_str(), &actions, nullptr, argv, env.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);

  // Reads until every one of `wanted` has appeared (or the child died).
  auto read_until = [](int fd, const std::vector<std::string>& wanted) {
    std::string text;
    char buffer[4096];
    const auto complete = [&] {
      return std::all_of(wanted.begin(), wanted.end(),
                         [&](const std::string& w) { return text.find(w) != std::string::npos; });
    };
    while (!complete()) {
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) break;  // the child died: fail below with what it wrote
      text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
  };
  const std::string ready = read_until(out_pipe[0], {"\n"});
  ASSERT_EQ(ready.rfind("ready ", 0), 0u) << ready;
  ASSERT_EQ(kill(child, SIGQUIT), 0);
  // The dump names the two stuck transfers and shows where they wait.
  const std::string dump =
      read_until(err_pipe[0], {"\"savings->checking\": parked on mutex",
                               "\"auditor\": parked on join", "transfer(", "stuck_fibers.cpp:"});
  EXPECT_NE(dump.find("\"savings->checking\": parked on mutex"), std::string::npos) << dump;
  EXPECT_NE(dump.find("\"auditor\": parked on join"), std::string::npos) << dump;
  EXPECT_NE(dump.find("stuck_fibers.cpp:"), std::string::npos) << dump;
  // Still alive after the dump: a second signal dumps again.
  ASSERT_EQ(kill(child, SIGQUIT), 0);
  const std::string again = read_until(err_pipe[0], {"weft runtime"});
  EXPECT_NE(again.find("weft runtime"), std::string::npos) << again;
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  close(out_pipe[0]);
  close(err_pipe[0]);
}

}  // namespace
