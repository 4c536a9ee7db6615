// Cancellation: join_handle::cancel at every kind of wait, nothing lost,
// shields, stop tokens, task_group's cancel-on-throw. (with_timeout and
// stress tests: timeout_test.cpp.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft::test::wait_until_parked;

class Cancel : public ::testing::TestWithParam<unsigned> {
 protected:
  weft::runtime rt{weft::options{.workers = GetParam()}};

  /// Spawns `wait` as a fiber, waits until it parks in a wait of `kind`,
  /// cancels it and expects join() to throw weft::cancelled.
  template <class F>
  void expect_cancelled_while_parked(weft::wait_kind kind, F wait) {
    auto h = rt.spawn(std::move(wait));
    wait_until_parked(rt, 1, kind);
    h.cancel();
    EXPECT_THROW(h.join(), weft::cancelled);
  }
};

TEST_P(Cancel, ChannelRecvTakesNothing) {
  weft::channel<int> ch(0);
  expect_cancelled_while_parked(weft::wait_kind::channel_recv, [&] { (void)ch.recv(); });
  // The value sent next is there for the next receiver.
  auto receiver = rt.spawn([&] { return ch.recv(); });
  rt.block_on([&] { ch.send(42); });
  EXPECT_EQ(receiver.join(), std::optional<int>(42));
}

TEST_P(Cancel, ChannelSendDeliversNothing) {
  weft::channel<int> ch(1);
  ch.try_send(1);
  expect_cancelled_while_parked(weft::wait_kind::channel_send, [&] { ch.send(2); });
  int v = 0;
  EXPECT_EQ(ch.try_recv(v), weft::channel_status::ok);
  EXPECT_EQ(v, 1);
  EXPECT_EQ(ch.try_recv(v), weft::channel_status::empty);  // 2 was not delivered
}

TEST_P(Cancel, SelectPerformsNoCase) {
  weft::channel<int> a(0);
  weft::channel<int> b(0);
  std::atomic<int> handled{0};
  expect_cancelled_while_parked(weft::wait_kind::select, [&] {
    weft::select(weft::on_recv(a, [&](std::optional<int>) { ++handled; }),
                 weft::on_send(b, 7, [&] { ++handled; }));
  });
  EXPECT_EQ(handled.load(), 0);
  int v = 0;
  EXPECT_EQ(b.try_recv(v), weft::channel_status::empty);  // the send case did not happen
}

TEST_P(Cancel, MutexLockHoldsNothing) {
  weft::mutex m;
  weft::channel<int> release(1);
  auto holder = rt.spawn([&] {
    std::lock_guard<weft::mutex> hold(m);
    (void)release.recv();
  });
  wait_until_parked(rt, 1, weft::wait_kind::channel_recv);
  expect_cancelled_while_parked(weft::wait_kind::mutex, [&] { m.lock(); });
  release.try_send(1);
  holder.join();
  // The cancelled locker does not hold it: it can be taken again.
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

TEST_P(Cancel, SharedMutexLetsReadersPastACancelledWriter) {
  weft::shared_mutex m;
  weft::channel<int> release(1);
  auto reader = rt.spawn([&] {
    std::shared_lock<weft::shared_mutex> hold(m);
    (void)release.recv();
  });
  wait_until_parked(rt, 1, weft::wait_kind::channel_recv);
  auto writer = rt.spawn([&] { m.lock(); });
  wait_until_parked(rt, 1, weft::wait_kind::shared_mutex);
  // A second reader queues behind the writer...
  auto second_reader = rt.spawn([&] {
    std::shared_lock<weft::shared_mutex> hold(m);
    return 5;
  });
  wait_until_parked(rt, 2, weft::wait_kind::shared_mutex);
  // ... and gets in once the writer gives up, while the first still reads.
  writer.cancel();
  EXPECT_THROW(writer.join(), weft::cancelled);
  EXPECT_EQ(second_reader.join(), 5);
  release.try_send(1);
  reader.join();
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

TEST_P(Cancel, ConditionVariableWaitReturnsHoldingTheLock) {
  weft::mutex m;
  weft::condition_variable cv;
  auto h = rt.spawn([&] {
    std::unique_lock<weft::mutex> lock(m);
    try {
      cv.wait(lock, [] { return false; });
    } catch (const weft::cancelled&) {
      return lock.owns_lock();
    }
    return false;
  });
  wait_until_parked(rt, 1, weft::wait_kind::condition_variable);
  h.cancel();
  EXPECT_TRUE(h.join());
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

TEST_P(Cancel, SemaphoreAcquireTakesNoUnit) {
  weft::semaphore s(0);
  expect_cancelled_while_parked(weft::wait_kind::semaphore, [&] { s.acquire(); });
  s.release();
  EXPECT_TRUE(s.try_acquire());  // the unit released afterwards was not owed to anyone
  EXPECT_FALSE(s.try_acquire());
}

TEST_P(Cancel, LatchBarrierAndWaitGroupWaits) {
  weft::latch l(1);
  expect_cancelled_while_parked(weft::wait_kind::latch, [&] { l.wait(); });
  weft::wait_group wg;
  wg.add(1);
  expect_cancelled_while_parked(weft::wait_kind::wait_group, [&] { wg.wait(); });
  weft::barrier b(2);
  expect_cancelled_while_parked(weft::wait_kind::barrier, [&] { b.arrive_and_wait(); });
  l.count_down();
  wg.done();
  EXPECT_TRUE(l.try_wait());
}

TEST_P(Cancel, SleepEndsAtOnce) {
  expect_cancelled_while_parked(weft::wait_kind::sleep,
                                [] { weft::this_fiber::sleep_for(std::chrono::hours(1)); });
}

TEST_P(Cancel, JoinLeavesTheHandleJoinable) {
  weft::channel<int> go(1);
  auto child = std::make_shared<weft::join_handle<int>>(rt.spawn([&] {
    (void)go.recv();
    return 9;
  }));
  wait_until_parked(rt, 1, weft::wait_kind::channel_recv);
  auto joiner = rt.spawn([&] {
    try {
      return child->join();
    } catch (const weft::cancelled&) {
      return child->joinable() ? -1 : -2;
    }
  });
  wait_until_parked(rt, 1, weft::wait_kind::join);
  joiner.cancel();
  EXPECT_EQ(joiner.join(), -1);
  go.try_send(1);
  EXPECT_EQ(child->join(), 9);  // the child ran on; its value is still there
}

TEST_P(Cancel, FutureGet) {
  weft::thread_pool pool(1);
  weft::latch open(1);
  auto fut = pool.submit([&] {
    open.wait();
    return 3;
  });
  expect_cancelled_while_parked(weft::wait_kind::future, [&] { (void)fut.get(); });
  open.count_down();
  EXPECT_EQ(fut.get(), 3);
}

TEST_P(Cancel, BlockingStopsWaitingAndTheCallRunsToItsEnd) {
  auto started = std::make_shared<weft::latch>(1);
  auto finish = std::make_shared<std::atomic<bool>>(false);
  auto destroyed = std::make_shared<std::atomic<int>>(0);
  struct result {
    std::shared_ptr<std::atomic<int>> destroyed;
    ~result() {
      if (destroyed) ++*destroyed;
    }
  };
  auto h = rt.spawn([=] {
    (void)weft::blocking([=] {
      started->count_down();
      while (!finish->load()) std::this_thread::yield();
      auto r = std::make_unique<result>();
      r->destroyed = destroyed;
      return r;
    });
  });
  started->wait();
  wait_until_parked(rt, 1, weft::wait_kind::future);
  h.cancel();
  EXPECT_THROW(h.join(), weft::cancelled);  // while the call still runs
  EXPECT_EQ(destroyed->load(), 0);
  finish->store(true);
  // The pool thread destroys the abandoned result when the call ends.
  while (destroyed->load() == 0) std::this_thread::yield();
  EXPECT_EQ(destroyed->load(), 1);
}

TEST_P(Cancel, SocketReadAndAccept) {
  auto listener = weft::net::tcp_listener::bind("127.0.0.1", 0);
  const std::uint16_t port = listener.local_port();
  expect_cancelled_while_parked(weft::wait_kind::io, [&] { (void)listener.accept(); });
  auto server = rt.spawn([&] { return listener.accept(); });
  auto client = rt.block_on([&] { return weft::net::tcp_stream::connect("127.0.0.1", port); });
  auto accepted = server.join();
  std::byte buf[4];
  expect_cancelled_while_parked(weft::wait_kind::io, [&] { (void)accepted.read_some(buf); });
  // Nothing was read: the bytes written now all arrive.
  const std::byte out[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
  rt.block_on([&] { client.write_all(out); });
  const std::size_t n = rt.block_on([&] { return accepted.read_some(buf); });
  ASSERT_GE(n, 1U);
  EXPECT_EQ(buf[0], std::byte{1});
}

TEST_P(Cancel, SocketWriteToAPeerThatDoesNotRead) {
  auto listener = weft::net::tcp_listener::bind("127.0.0.1", 0);
  const std::uint16_t port = listener.local_port();
  auto server = rt.spawn([&] { return listener.accept(); });
  auto client = rt.block_on([&] { return weft::net::tcp_stream::connect("127.0.0.1", port); });
  auto accepted = server.join();  // never reads: the socket buffers fill up
  const std::vector<std::byte> big(64 << 20);
  expect_cancelled_while_parked(weft::wait_kind::io, [&] { client.write_all(big); });
}

TEST_P(Cancel, SocketConnectToAFullAcceptQueue) {
  // A listener that never accepts, with the smallest backlog: once its
  // queue is full, the kernel drops further SYNs and a connect waits.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 0), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::uint16_t port = ntohs(addr.sin_port);
  // Connect, wait until the connect parks, cancel. A connect that parked
  // only for the handshake may finish first (then it is one more in the
  // queue); once the queue is full, a parked connect stays parked.
  std::vector<weft::net::tcp_stream> fillers;
  bool cancelled = false;
  for (int i = 0; i < 64 && !cancelled; ++i) {
    auto c = rt.spawn([port] { return weft::net::tcp_stream::connect("127.0.0.1", port); });
    bool parked = false;
    while (!c.done() && !parked) {
      for (const auto& f : rt.fibers()) {
        if (f.state == weft::fiber_state::parked && f.waiting_on == weft::wait_kind::io) {
          parked = true;
        }
      }
    }
    c.cancel();
    try {
      fillers.push_back(c.join());  // connected after all: nothing half-done
    } catch (const weft::cancelled&) {
      cancelled = true;
    }
  }
  EXPECT_TRUE(cancelled);
  ::close(fd);
}

TEST_P(Cancel, BeforeItStartsTheBodyNeverRuns) {
  std::atomic<bool> ran{false};
  weft::latch hold(1);
  // Keep every worker busy so the fiber cannot start before the cancel.
  std::vector<weft::join_handle<void>> blockers;
  for (unsigned i = 0; i < GetParam(); ++i) {
    blockers.push_back(rt.spawn([&] {
      weft::cancellation_shield shield;
      while (!hold.try_wait()) std::this_thread::yield();
    }));
  }
  auto h = rt.spawn([&] { ran = true; });
  h.cancel();
  hold.count_down();
  for (auto& b : blockers) b.join();
  EXPECT_THROW(h.join(), weft::cancelled);
  EXPECT_FALSE(ran.load());
}

TEST_P(Cancel, ADetachedFiberEndedByCancellationIsNotReported) {
  weft::channel<int> never(0);
  std::atomic<bool> ended_cancelled{false};
  {
    weft::runtime local(weft::options{.workers = GetParam()});
    auto h = local.spawn([&] {
      try {
        (void)never.recv();
      } catch (const weft::cancelled&) {
        ended_cancelled = true;
        throw;
      }
    });
    wait_until_parked(local, 1, weft::wait_kind::channel_recv);
    h.cancel();
    h.detach();
  }  // ~runtime waits for it; a report would have aborted the process
  EXPECT_TRUE(ended_cancelled.load());
}

TEST_P(Cancel, StopTokenAsFirstParameterAndFromTheFiber) {
  weft::latch started(1);
  auto h = rt.spawn(
      [&started](std::stop_token token, int base) {
        started.count_down();
        EXPECT_TRUE(token.stop_possible());
        while (!token.stop_requested()) weft::this_fiber::yield();
        return base + (weft::this_fiber::get_stop_token().stop_requested() ? 1 : 0);
      },
      40);
  started.wait();  // cancelled before it starts, it would not run at all
  h.cancel();
  EXPECT_EQ(h.join(), 41);
  EXPECT_FALSE(weft::this_fiber::get_stop_token().stop_possible());  // a plain thread
  EXPECT_FALSE(weft::this_fiber::cancellation_requested());
}

TEST_P(Cancel, ComputationIsNotInterruptedAndSeesTheRequest) {
  weft::latch started(1);
  auto h = rt.spawn([&] {
    started.count_down();
    long spins = 0;
    while (!weft::this_fiber::cancellation_requested()) ++spins;  // runs on until it looks
    try {
      weft::this_fiber::sleep_for(std::chrono::hours(1));  // the next wait is cut
    } catch (const weft::cancelled&) {
      return true;
    }
    return false;
  });
  started.wait();
  h.cancel();
  EXPECT_TRUE(h.join());
}

TEST_P(Cancel, ShieldDefersDeliveryToTheNextWait) {
  weft::channel<int> ch(0);
  weft::channel<int> after(0);
  auto h = rt.spawn([&] {
    int got = 0;
    {
      weft::cancellation_shield shield;
      EXPECT_FALSE(weft::this_fiber::cancellation_requested());
      got = ch.recv().value();  // waits to the end despite the cancel
    }
    EXPECT_TRUE(weft::this_fiber::cancellation_requested());
    try {
      (void)after.recv();
    } catch (const weft::cancelled&) {
      return got;
    }
    return -1;
  });
  wait_until_parked(rt, 1, weft::wait_kind::channel_recv);
  h.cancel();
  rt.block_on([&] { ch.send(8); });
  EXPECT_EQ(h.join(), 8);
}

TEST_P(Cancel, TaskGroupCancelsTheRestWhenOneThrows) {
  std::atomic<int> started{0};
  std::atomic<int> cancelled_count{0};
  weft::channel<int> never(0);
  rt.block_on([&] {
    weft::task_group g;
    for (int i = 0; i < 4; ++i) {
      g.spawn([&] {
        ++started;
        try {
          (void)never.recv();
        } catch (const weft::cancelled&) {
          ++cancelled_count;
          throw;
        }
      });
    }
    g.spawn([] { throw std::runtime_error("first failure"); });
    try {
      g.wait();
      ADD_FAILURE() << "wait() did not throw";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "first failure");
    }
  });
  // Every task that started was cancelled in its wait (the others never ran).
  EXPECT_EQ(cancelled_count.load(), started.load());
  EXPECT_EQ(rt.stats().alive, 0U);
}

TEST_P(Cancel, CancelledTaskGroupWaitCancelsItsTasks) {
  weft::channel<int> never(0);
  auto parent = rt.spawn([&] {
    weft::task_group g;
    for (int i = 0; i < 3; ++i) g.spawn([&] { (void)never.recv(); });
    g.wait();
  });
  wait_until_parked(rt, 1, weft::wait_kind::join);
  parent.cancel();
  EXPECT_THROW(parent.join(), weft::cancelled);
  EXPECT_EQ(rt.stats().alive, 0U);  // the group's destructor waited for every task
}

TEST_P(Cancel, CancelFromAnotherFiberAndTwice) {
  weft::channel<int> never(0);
  auto h = rt.spawn([&] { (void)never.recv(); });
  wait_until_parked(rt, 1, weft::wait_kind::channel_recv);
  rt.block_on([&] {
    h.cancel();
    h.cancel();
  });
  EXPECT_THROW(h.join(), weft::cancelled);
  weft::join_handle<void> empty;
  EXPECT_THROW(empty.cancel(), std::logic_error);
}

INSTANTIATE_TEST_SUITE_P(Workers, Cancel, ::testing::ValuesIn(weft::test::worker_counts),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

}  // namespace
