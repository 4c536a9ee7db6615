// The per-runtime epoll sets and their harvest by idle workers
// (runtime/io/io_poller.hpp): fibers of two runtimes waiting on one
// descriptor, a runtime destroyed while another runtime's fiber waits on a
// descriptor registered in its set, a worker blocked in epoll woken for
// ordinary work and for timers, I/O harvested while every worker is busy,
// a forked child that leaves the parent's events alone, and no CPU used by a
// runtime whose fibers all wait for I/O.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using weft::test::wait_until_parked;

using namespace std::chrono_literals;

// A non-blocking pipe, closed at the end of the scope.
struct pipe_pair {
  int read_end = -1;
  int write_end = -1;
  pipe_pair() {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    read_end = p[0];
    write_end = p[1];
  }
  ~pipe_pair() {
    ::close(read_end);
    ::close(write_end);
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
  void write_byte() const { ASSERT_EQ(::write(write_end, "x", 1), 1); }
};

TEST(IoPoller, FibersOfTwoRuntimesWaitingOnOneDescriptorAreBothWoken) {
  weft::runtime a(weft::options{.workers = 1, .name = "io-a"});
  weft::runtime b(weft::options{.workers = 2, .name = "io-b"});
  const pipe_pair p;
  auto in_b = b.spawn([fd = p.read_end] { return weft::net::wait_readable(fd, 1h); });
  wait_until_parked(b, 1);
  // Arming from `a` moves the registration into a's set, for both waiters.
  auto in_a = a.spawn([fd = p.read_end] { return weft::net::wait_readable(fd, 1h); });
  wait_until_parked(a, 1);
  p.write_byte();
  EXPECT_TRUE(in_a.join());
  EXPECT_TRUE(in_b.join());
}

TEST(IoPoller, ARuntimeDestroyedUnderAnotherRuntimesWaiterHandsTheWaitBack) {
  weft::runtime b(weft::options{.workers = 1, .name = "io-b"});
  const pipe_pair p;
  // Bounded, so that a lost hand-over fails the test instead of hanging it.
  auto in_b = b.spawn([fd = p.read_end] { return weft::net::wait_readable(fd, 60s); });
  wait_until_parked(b, 1);
  {
    weft::runtime a(weft::options{.workers = 1, .name = "io-a"});
    // Its wait moves the registration into a's set, then times out; b's
    // waiter is still linked, so the registration stays there.
    EXPECT_FALSE(a.block_on([fd = p.read_end] { return weft::net::wait_readable(fd, 1ms); }));
  }  // a's set goes away: b's waiter must arm again in b's
  p.write_byte();
  EXPECT_TRUE(in_b.join());
}

TEST(IoPoller, AWorkerBlockedInEpollIsWokenForWorkAndForTimers) {
  weft::runtime rt(weft::options{.workers = 1, .name = "io-one"});
  const pipe_pair p;
  auto reader = rt.spawn([fd = p.read_end] { return weft::net::wait_readable(fd, 1h); });
  wait_until_parked(rt, 1);
  // The only worker now sleeps in epoll: a spawn from outside must wake it,
  std::atomic<int> ran{0};
  rt.spawn([&] { ran.fetch_add(1); }).join();
  EXPECT_EQ(ran.load(), 1);
  // and so must a timer armed by a fiber (its deadline bounds the wait).
  EXPECT_EQ(rt.block_on([] {
    weft::this_fiber::sleep_for(2ms);
    return 7;
  }),
            7);
  p.write_byte();
  EXPECT_TRUE(reader.join());
}

TEST(IoPoller, ReadinessIsHarvestedWhileEveryWorkerIsBusy) {
  // Repeated: with one worker, whether the yielder is spawned before or
  // after the worker blocks in epoll varies; both orders must harvest (the
  // yield path once never ran the fairness step's poll: it hung).
  for (const unsigned workers : {1u, 1u, 1u, 1u, 1u, 1u, 1u, 1u, 2u, 2u}) {
    weft::runtime rt(weft::options{.workers = workers, .name = "io-busy"});
    const pipe_pair p;
    std::atomic<bool> woke{false};
    auto reader = rt.spawn([&, fd = p.read_end] {
      const bool ready = weft::net::wait_readable(fd, 1h);
      woke.store(true);
      return ready;
    });
    wait_until_parked(rt, 1);
    // One yielding fiber per worker: no worker ever runs out of work, so
    // only the fairness tick's poll can see the readiness.
    std::vector<weft::join_handle<void>> spinners;
    for (unsigned i = 0; i < workers; ++i) {
      spinners.push_back(rt.spawn([&] {
        while (!woke.load()) weft::this_fiber::yield();
      }));
    }
    p.write_byte();
    EXPECT_TRUE(reader.join());
    for (auto& s : spinners) s.join();
  }
}

TEST(IoPoller, AForkedChildNeverTakesTheParentsEvents) {
#if defined(__SANITIZE_THREAD__)
  // TSan's per-fiber state does not survive a fork of a multi-threaded
  // process: the child reports races on its own switches. The other
  // configurations run this test.
  GTEST_SKIP() << "fork with fibers in the child is outside what TSan models";
#endif
  weft::runtime rt(weft::options{.workers = 1, .name = "io-fork"});
  const pipe_pair data;
  const pipe_pair child_ready;
  auto reader = rt.spawn([fd = data.read_end] { return weft::net::wait_readable(fd, 30s); });
  wait_until_parked(rt, 1);
  // The child of a fork made on a fiber keeps running that fiber on the one
  // thread it has, and its worker goes idle while the fiber sleeps: it must
  // not harvest the epoll set it shares with the parent.
  const pid_t child = rt.block_on([&] {
    const pid_t pid = ::fork();
    if (pid == 0) {
      (void)!::write(child_ready.write_end, "r", 1);
      weft::this_fiber::sleep_for(500ms);
      ::_exit(0);
    }
    return pid;
  });
  ASSERT_GT(child, 0);
  ASSERT_TRUE(weft::net::wait_readable(child_ready.read_end, 30s));  // the child runs
  data.write_byte();
  EXPECT_TRUE(reader.join());  // false (after 30 s) if the child took the event
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
}

// CPU time, in ns, of this process's threads whose name starts with `prefix`
// (/proc/self/task/TID/schedstat: time on CPU, exact).
std::uint64_t cpu_ns_of_threads(const std::string& prefix) {
  std::uint64_t total = 0;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string task = std::string("/proc/self/task/") + entry->d_name;
    std::string name;
    std::getline(std::ifstream(task + "/comm"), name);
    if (name.rfind(prefix, 0) != 0) continue;
    std::uint64_t on_cpu = 0;
    std::ifstream(task + "/schedstat") >> on_cpu;
    total += on_cpu;
  }
  ::closedir(dir);
  return total;
}

TEST(IoPoller, ARuntimeWhoseFibersAllWaitForIoUsesNoCpu) {
  if (!std::ifstream("/proc/self/task/" + std::to_string(::gettid()) + "/schedstat")) {
    GTEST_SKIP() << "no schedstat in /proc here";
  }
  weft::runtime rt(weft::options{.workers = 4, .name = "io-idle"});
  const pipe_pair p;
  std::vector<weft::join_handle<bool>> readers;
  for (int i = 0; i < 16; ++i) {
    readers.push_back(rt.spawn([fd = p.read_end] { return weft::net::wait_readable(fd, 1h); }));
  }
  wait_until_parked(rt, 16);
  // The window measures, it does not wait for anything: four workers
  // spinning or polling on a timer would burn most of 4 x 200 ms.
  const std::uint64_t before = cpu_ns_of_threads("io-idle");
  std::this_thread::sleep_for(200ms);
  const std::uint64_t used = cpu_ns_of_threads("io-idle") - before;
  EXPECT_LT(used, std::uint64_t{20'000'000}) << "ns on CPU while every fiber waited";
  p.write_byte();
  for (auto& r : readers) EXPECT_TRUE(r.join());
}

}  // namespace
