// weft::net: echo traffic with many concurrent clients (1/2/4 workers), fibers
// and plain threads on either side, errors (refused, timeouts, close while
// waiting, peer close), large full-duplex transfers, readiness waits on pipes,
// moves, and I/O still harvested while a runtime is destroyed at exit. Loopback addresses only.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using weft::test::wait_until_parked;

using namespace std::chrono_literals;
using weft::net::tcp_listener;
using weft::net::tcp_stream;
using weft::test::scaled;

constexpr const char* loopback = "127.0.0.1";

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s)); }

// Reads exactly buf.size() bytes; false if the peer closed first.
bool read_exact(tcp_stream& s, std::span<std::byte> buf) {
  while (!buf.empty()) {
    const std::size_t n = s.read_some(buf);
    if (n == 0) return false;
    buf = buf.subspan(n);
  }
  return true;
}

std::string read_string(tcp_stream& s, std::size_t size) {
  std::string out(size, '\0');
  if (!read_exact(s, std::as_writable_bytes(std::span(out)))) out = "<closed>";
  return out;
}

// Everything until the peer closes.
std::string read_to_end(tcp_stream& s) {
  std::string out;
  char buf[256];
  while (const std::size_t n = s.read_some(std::as_writable_bytes(std::span(buf)))) {
    out.append(buf, n);
  }
  return out;
}

// Echoes what it reads until the peer closes its side; returns the count.
std::size_t echo(tcp_stream s) {
  std::byte buf[512];
  std::size_t total = 0;
  while (const std::size_t n = s.read_some(buf)) {
    s.write_all(std::span(buf, n));
    total += n;
  }
  return total;
}

// The code of the std::system_error `f` throws; an empty code if none.
template <class F>
std::error_code error_of(F&& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return e.code();
  }
  return {};
}

testing::AssertionResult is(std::error_code got, std::errc want) {
  if (got == want) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "got \"" << got.message() << "\" (" << got.value() << "), want \""
         << std::make_error_code(want).message() << "\"";
}

// A connected pair: (client side, server side).
std::pair<tcp_stream, tcp_stream> connected_pair() {
  auto listener = tcp_listener::bind(loopback, 0);
  auto client = tcp_stream::connect(loopback, listener.local_port());
  return {std::move(client), listener.accept()};
}

class Net : public ::testing::TestWithParam<unsigned> {
 protected:
  weft::runtime rt{weft::options{.workers = GetParam()}};
};

// ---- traffic

TEST_P(Net, EchoServerServesManyConcurrentClientsExactly) {
  const int clients = static_cast<int>(std::max<std::size_t>(scaled(200), 50));
  constexpr int rounds = 50;
  auto listener = tcp_listener::bind(loopback, 0);
  const std::uint16_t port = listener.local_port();
  std::atomic<std::size_t> echoed{0};
  auto server = rt.spawn([&] {
    std::vector<weft::join_handle<void>> handlers;
    for (int i = 0; i < clients; ++i) {
      handlers.push_back(weft::spawn([&echoed](tcp_stream s) { echoed += echo(std::move(s)); },
                                     listener.accept()));
    }
    for (auto& h : handlers) h.join();
  });
  std::vector<weft::join_handle<std::size_t>> users;
  for (int c = 0; c < clients; ++c) {
    users.push_back(rt.spawn([port, c] {
      auto s = tcp_stream::connect(loopback, port, 10s);
      std::size_t sent = 0;
      for (int r = 0; r < rounds; ++r) {
        const std::string msg = std::to_string(c) + ":" + std::to_string(r) + ":" +
                                std::string(static_cast<std::size_t>((c * 7 + r * 13) % 300),
                                            static_cast<char>('a' + (c + r) % 26));
        s.write_all(bytes_of(msg));
        EXPECT_EQ(read_string(s, msg.size()), msg);
        sent += msg.size();
      }
      s.shutdown_write();
      std::byte extra[1];
      EXPECT_EQ(s.read_some(extra), 0u);  // the server closed after echoing everything
      return sent;
    }));
  }
  std::size_t sent = 0;
  for (auto& h : users) sent += h.join();
  server.join();
  EXPECT_GT(sent, 0u);
  EXPECT_EQ(echoed.load(), sent);
}

TEST_P(Net, LargeTransfersInBothDirectionsAtOnce) {
  // Larger than the loopback socket buffers, so both writers block while
  // both readers drain: a reader and a writer wait on each descriptor.
  constexpr std::size_t size = std::size_t{4} << 20;
  auto pattern = [](std::size_t i, unsigned seed) {
    return static_cast<std::byte>((i ^ (i >> 8) ^ (i >> 16)) + seed);
  };
  auto conn = rt.block_on(connected_pair);
  tcp_stream& a = conn.first;
  tcp_stream& b = conn.second;
  auto send = [&](tcp_stream& s, unsigned seed) {
    return rt.spawn([&s, seed, pattern] {
      std::vector<std::byte> out(size);
      for (std::size_t i = 0; i < size; ++i) out[i] = pattern(i, seed);
      s.write_all(out);
    });
  };
  auto receive = [&](tcp_stream& s, unsigned seed) {
    return rt.spawn([&s, seed, pattern] {
      std::vector<std::byte> in(64 << 10);
      std::size_t got = 0;
      std::size_t wrong = 0;
      while (got < size) {
        const std::size_t n = s.read_some(in);
        if (n == 0) break;
        for (std::size_t i = 0; i < n; ++i) wrong += in[i] != pattern(got + i, seed);
        got += n;
      }
      EXPECT_EQ(wrong, 0u);
      return got;
    });
  };
  auto a_out = send(a, 1);
  auto b_out = send(b, 2);
  auto a_in = receive(a, 2);
  auto b_in = receive(b, 1);
  a_out.join();
  b_out.join();
  EXPECT_EQ(a_in.join(), size);
  EXPECT_EQ(b_in.join(), size);
}

TEST_P(Net, PlainThreadClientAgainstFiberServer) {
  auto listener = tcp_listener::bind(loopback, 0);
  const std::uint16_t port = listener.local_port();
  constexpr int clients = 4;
  auto server = rt.spawn([&] {
    std::vector<weft::join_handle<std::size_t>> handlers;
    for (int i = 0; i < clients; ++i) handlers.push_back(weft::spawn(echo, listener.accept()));
    std::size_t total = 0;
    for (auto& h : handlers) total += h.join();
    return total;
  });
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto s = tcp_stream::connect(loopback, port);
      const std::string msg = "thread " + std::to_string(c);
      for (int r = 0; r < 20; ++r) {
        s.write_all(bytes_of(msg));
        if (read_string(s, msg.size()) == msg) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), clients * 20);
  EXPECT_EQ(server.join(), clients * 20 * std::string("thread 0").size());
}

TEST_P(Net, FiberClientsAgainstPlainThreadServer) {
  auto listener = tcp_listener::bind(loopback, 0);
  const std::uint16_t port = listener.local_port();
  constexpr int clients = 4;
  std::atomic<std::size_t> echoed{0};
  std::thread server([&] {
    std::vector<std::thread> handlers;
    for (int i = 0; i < clients; ++i) {
      handlers.emplace_back([&echoed](tcp_stream s) { echoed += echo(std::move(s)); },
                            listener.accept());
    }
    for (auto& t : handlers) t.join();
  });
  std::vector<weft::join_handle<int>> fibers;
  for (int c = 0; c < clients; ++c) {
    fibers.push_back(rt.spawn([port, c] {
      auto s = tcp_stream::connect(loopback, port, 10s);
      const std::string msg = "fiber " + std::to_string(c);
      int good = 0;
      for (int r = 0; r < 20; ++r) {
        s.write_all(bytes_of(msg));
        good += read_string(s, msg.size()) == msg;
      }
      return good;
    }));
  }
  int good = 0;
  for (auto& h : fibers) good += h.join();
  server.join();
  EXPECT_EQ(good, clients * 20);
  EXPECT_EQ(echoed.load(), clients * 20 * std::string("fiber 0").size());
}

// ---- errors and endings

TEST_P(Net, ConnectToAClosedPortIsRefused) {
  std::uint16_t port = 0;
  {
    auto listener = tcp_listener::bind(loopback, 0);
    port = listener.local_port();
  }  // closed: nothing listens there now
  EXPECT_TRUE(
      is(rt.block_on([port] { return error_of([&] { tcp_stream::connect(loopback, port); }); }),
         std::errc::connection_refused));
  EXPECT_TRUE(
      is(rt.block_on([port] { return error_of([&] { tcp_stream::connect(loopback, port, 5s); }); }),
         std::errc::connection_refused));
  EXPECT_TRUE(is(error_of([&] { tcp_stream::connect(loopback, port); }),  // plain thread
                 std::errc::connection_refused));
}

TEST_P(Net, ReadTimeoutLeavesTheConnectionUsable) {
  auto listener = tcp_listener::bind(loopback, 0);
  const std::uint16_t port = listener.local_port();
  auto server = rt.spawn([&] {
    auto s = listener.accept();
    const std::string go = read_string(s, 2);  // the client's timeout is over
    s.write_all(bytes_of(std::string("late")));
    return go;
  });
  auto client = rt.spawn([port] {
    auto s = tcp_stream::connect(loopback, port);
    std::byte buf[8];
    EXPECT_TRUE(is(error_of([&] { s.read_some(buf, 20ms); }), std::errc::timed_out));
    EXPECT_TRUE(is(error_of([&] { s.read_some(buf, 0ms); }), std::errc::timed_out));
    s.write_all(bytes_of(std::string("go")));
    return read_string(s, 4);
  });
  EXPECT_EQ(client.join(), "late");
  EXPECT_EQ(server.join(), "go");
}

TEST(NetThread, ReadTimeoutOnAPlainThreadLeavesTheConnectionUsable) {
  auto conn = connected_pair();
  tcp_stream& a = conn.first;
  tcp_stream& b = conn.second;
  std::byte buf[8];
  EXPECT_TRUE(is(error_of([&] { a.read_some(buf, 20ms); }), std::errc::timed_out));
  b.write_all(bytes_of(std::string("x")));
  EXPECT_EQ(a.read_some(buf, 10s), 1u);
  EXPECT_EQ(buf[0], std::byte{'x'});
}

TEST_P(Net, WriteTimeoutWhenThePeerDoesNotRead) {
  auto conn = rt.block_on(connected_pair);
  tcp_stream& a = conn.first;
  tcp_stream& b = conn.second;
  // Far more than the socket buffers hold; the peer never reads.
  const std::vector<std::byte> lots(std::size_t{32} << 20);
  EXPECT_TRUE(is(rt.block_on([&a, &lots] { return error_of([&] { a.write_all(lots, 50ms); }); }),
                 std::errc::timed_out));
  EXPECT_GE(b.native_handle(), 0);
}

TEST_P(Net, TimedReadsRacingArrivalsLoseNoByte) {
  // Short timeouts against a steady trickle: the timer and the poller race
  // to end the same waits; each wait must end exactly once, and every byte
  // must arrive exactly once.
  auto conn = rt.block_on(connected_pair);
  tcp_stream& a = conn.first;
  tcp_stream& b = conn.second;
  const std::size_t messages = scaled(2'000);
  auto writer = rt.spawn([&b, messages] {
    for (std::size_t i = 0; i < messages; ++i) {
      b.write_all(bytes_of(std::string(1, static_cast<char>('a' + i % 26))));
      if (i % 8 == 0) weft::this_fiber::yield();
    }
  });
  auto reader = rt.spawn([&a, messages] {
    std::size_t got = 0;
    std::size_t wrong = 0;
    int k = 0;
    while (got < messages) {
      char buf[64];
      try {
        const std::size_t n = a.read_some(std::as_writable_bytes(std::span(buf)),
                                          std::chrono::microseconds(++k % 50));
        for (std::size_t i = 0; i < n; ++i) {
          wrong += buf[i] != static_cast<char>('a' + (got + i) % 26);
        }
        got += n;
      } catch (const std::system_error& e) {
        EXPECT_TRUE(is(e.code(), std::errc::timed_out));
      }
    }
    EXPECT_EQ(wrong, 0u);
    return got;
  });
  writer.join();
  EXPECT_EQ(reader.join(), messages);
}

TEST_P(Net, PeerCloseMakesReadSomeReturnZero) {
  auto listener = tcp_listener::bind(loopback, 0);
  const std::uint16_t port = listener.local_port();
  auto server = rt.spawn([&] {
    auto s = listener.accept();
    s.write_all(bytes_of(std::string("bye")));
  });  // s closes here
  auto client = rt.spawn([port] {
    auto s = tcp_stream::connect(loopback, port);
    const std::string got = read_to_end(s);
    std::byte buf[4];
    EXPECT_EQ(s.read_some(buf), 0u);  // and again
    return got;
  });
  server.join();
  EXPECT_EQ(client.join(), "bye");
}

TEST_P(Net, ShutdownWriteHalfClosesTheStream) {
  auto conn = rt.block_on(connected_pair);
  tcp_stream& a = conn.first;
  tcp_stream& b = conn.second;
  auto peer = rt.spawn([&b] {
    const std::string request = read_to_end(b);  // ends at a's shutdown_write
    b.write_all(bytes_of("re: " + request));
    b.close();
  });
  const std::string reply = rt.block_on([&a] {
    a.write_all(bytes_of(std::string("question")));
    a.shutdown_write();
    return read_to_end(a);  // a can still read
  });
  peer.join();
  EXPECT_EQ(reply, "re: question");
}

TEST_P(Net, ListenerCloseWakesFibersBlockedInAccept) {
  auto listener = tcp_listener::bind(loopback, 0);
  std::vector<weft::join_handle<std::error_code>> acceptors;
  for (int i = 0; i < 3; ++i) {
    acceptors.push_back(rt.spawn([&] { return error_of([&] { listener.accept(); }); }));
  }
  wait_until_parked(rt, 3);
  rt.spawn([&] { listener.close(); }).join();
  for (auto& h : acceptors) EXPECT_TRUE(is(h.join(), std::errc::operation_canceled));
  EXPECT_TRUE(is(error_of([&] { listener.accept(); }), std::errc::bad_file_descriptor));
  EXPECT_TRUE(is(error_of([&] { (void)listener.local_port(); }), std::errc::bad_file_descriptor));
}

TEST_P(Net, SeveralAcceptorsTakeEachConnectionOnceUntilClosed) {
  // Several waiters on one listening descriptor: each connection goes to
  // exactly one of them; close() then ends every acceptor.
  auto listener = tcp_listener::bind(loopback, 0);
  const std::uint16_t port = listener.local_port();
  const int connections = static_cast<int>(std::max<std::size_t>(scaled(400), 40));
  std::atomic<int> accepted{0};
  std::vector<weft::join_handle<std::error_code>> acceptors;
  for (int i = 0; i < 4; ++i) {
    acceptors.push_back(rt.spawn([&] {
      return error_of([&] {
        for (;;) {
          auto s = listener.accept();
          std::byte one[1];
          if (s.read_some(one) == 1) ++accepted;
        }
      });
    }));
  }
  std::vector<weft::join_handle<void>> clients;
  for (int c = 0; c < connections; ++c) {
    clients.push_back(rt.spawn([port] {
      auto s = tcp_stream::connect(loopback, port);
      s.write_all(bytes_of(std::string("!")));
      std::byte end[1];
      EXPECT_EQ(s.read_some(end), 0u);  // the acceptor closed it after reading
    }));
  }
  for (auto& h : clients) h.join();
  EXPECT_EQ(accepted.load(), connections);
  wait_until_parked(rt, 4);  // every acceptor is back in accept()
  listener.close();
  for (auto& h : acceptors) EXPECT_TRUE(is(h.join(), std::errc::operation_canceled));
}

TEST(NetThread, ListenerCloseWakesAThreadBlockedInAccept) {
  auto listener = tcp_listener::bind(loopback, 0);
  std::atomic<bool> entering{false};
  std::error_code code;
  std::thread acceptor([&] {
    entering = true;
    code = error_of([&] { listener.accept(); });
  });
  while (!entering) std::this_thread::yield();
  listener.close();
  acceptor.join();
  // Usually blocked in ppoll by now (operation_canceled); if close() won the
  // race to the descriptor, accept() saw it closed. Either way it returned.
  EXPECT_TRUE(code == std::errc::operation_canceled || code == std::errc::bad_file_descriptor)
      << code.message();
}

TEST_P(Net, CloseCancelsAReadOnAnotherFiber) {
  auto conn = rt.block_on(connected_pair);
  tcp_stream& a = conn.first;
  tcp_stream& b = conn.second;
  auto reader = rt.spawn([&a] {
    std::byte buf[8];
    return error_of([&] { a.read_some(buf); });
  });
  wait_until_parked(rt, 1);
  a.close();
  EXPECT_TRUE(is(reader.join(), std::errc::operation_canceled));
  EXPECT_EQ(a.native_handle(), -1);
  std::byte buf[8];
  EXPECT_EQ(b.read_some(buf), 0u);  // the peer sees the end
}

// ---- readiness of any descriptor

void check_pipe_readiness() {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  EXPECT_FALSE(weft::net::wait_readable(p[0], 10ms));
  EXPECT_FALSE(weft::net::wait_readable(p[0], 0ms));
  EXPECT_TRUE(weft::net::wait_writable(p[1], 10ms));
  ASSERT_EQ(::write(p[1], "x", 1), 1);
  EXPECT_TRUE(weft::net::wait_readable(p[0], 10s));
  EXPECT_TRUE(weft::net::wait_readable(p[0], 0ms));
  char buf[4096];
  std::size_t queued = 0;
  for (ssize_t n; (n = ::write(p[1], buf, sizeof buf)) > 0;) queued += static_cast<std::size_t>(n);
  EXPECT_GT(queued, 0u);
  EXPECT_FALSE(weft::net::wait_writable(p[1], 10ms));  // full
  while (::read(p[0], buf, sizeof buf) > 0) {
  }
  EXPECT_TRUE(weft::net::wait_writable(p[1], 10s));
  EXPECT_FALSE(weft::net::wait_readable(p[0], 1ms));
  ::close(p[0]);
  ::close(p[1]);
}

TEST_P(Net, WaitReadableAndWritableOnAPipe) {
  rt.block_on(check_pipe_readiness);
  check_pipe_readiness();  // plain thread
}

TEST_P(Net, AFiberWaitingForReadabilityIsWokenByAWrite) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  auto waiter = rt.spawn([r = p[0]] { return weft::net::wait_readable(r, 1h); });
  wait_until_parked(rt, 1);
  ASSERT_EQ(::write(p[1], "y", 1), 1);
  EXPECT_TRUE(waiter.join());
  ::close(p[0]);
  ::close(p[1]);
}

TEST(NetThread, WaitOnABadDescriptorThrows) {
  EXPECT_TRUE(
      is(error_of([] { weft::net::wait_readable(-1, 1s); }), std::errc::bad_file_descriptor));
  weft::runtime rt(weft::options{.workers = 1});
  EXPECT_TRUE(is(rt.block_on([] { return error_of([] { weft::net::wait_writable(-1, 1s); }); }),
                 std::errc::bad_file_descriptor));
}

// ---- handles

TEST(NetHandles, MovesTransferOwnership) {
  tcp_listener listener = tcp_listener::bind(loopback, 0);
  const std::uint16_t port = listener.local_port();
  tcp_listener moved_listener(std::move(listener));
  EXPECT_TRUE(is(error_of([&] { (void)listener.local_port(); }), std::errc::bad_file_descriptor));
  EXPECT_EQ(moved_listener.local_port(), port);

  tcp_stream first = tcp_stream::connect(loopback, port);
  tcp_stream first_peer = moved_listener.accept();
  tcp_stream moved(std::move(first));
  EXPECT_EQ(first.native_handle(), -1);
  EXPECT_GE(moved.native_handle(), 0);
  std::byte buf[4];
  EXPECT_TRUE(is(error_of([&] { first.read_some(buf); }), std::errc::bad_file_descriptor));
  EXPECT_TRUE(
      is(error_of([&] { first.write_all(std::span(buf)); }), std::errc::bad_file_descriptor));
  first.close();  // no-op

  // Move-assignment closes the target's own connection first.
  tcp_stream second = tcp_stream::connect(loopback, port);
  tcp_stream second_peer = moved_listener.accept();
  second = std::move(moved);
  EXPECT_EQ(moved.native_handle(), -1);
  EXPECT_EQ(second_peer.read_some(buf), 0u);
  second.write_all(bytes_of(std::string("hi")));
  EXPECT_EQ(read_string(first_peer, 2), "hi");

  tcp_stream empty;
  EXPECT_EQ(empty.native_handle(), -1);
  tcp_listener empty_listener;
  empty_listener = std::move(moved_listener);
  EXPECT_EQ(empty_listener.local_port(), port);
}

TEST(NetNames, NamesResolveThroughTheBlockingPool) {
  auto listener = tcp_listener::bind(loopback, 0);
  const std::uint16_t port = listener.local_port();
  weft::runtime rt(weft::options{.workers = 1});
  // "localhost" may list ::1 first, where nobody listens: the next address is tried.
  auto client = rt.spawn([port] {
    auto s = tcp_stream::connect("localhost", port);
    s.write_all(bytes_of(std::string("named")));
  });
  auto peer = listener.accept();
  client.join();
  EXPECT_EQ(read_string(peer, 5), "named");
}

TEST(NetIpv6, EchoOverTheIpv6Loopback) {
  tcp_listener listener;
  try {
    listener = tcp_listener::bind("::1", 0);
  } catch (const std::system_error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  weft::runtime rt(weft::options{.workers = 2});
  auto server = rt.spawn([&] { return echo(listener.accept()); });
  const std::string reply = rt.block_on([port = listener.local_port()] {
    auto s = tcp_stream::connect("[::1]", port);
    s.write_all(bytes_of(std::string("six")));
    std::string got = read_string(s, 3);
    s.shutdown_write();
    return got;
  });
  EXPECT_EQ(reply, "six");
  EXPECT_EQ(server.join(), 3u);
}

// ---- exit

int exit_pipe[2];

TEST(NetDeathTest, ExitWithAFiberWaitingOnIoLetsTheWaitFinish) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ASSERT_EQ(::pipe2(exit_pipe, O_NONBLOCK | O_CLOEXEC), 0);
        // At exit, in reverse order of these registrations: the pipe is
        // written, then the default runtime waits for the fiber, which is
        // parked in that runtime's epoll set: its own idle workers must
        // still harvest it while the runtime is being destroyed.
        weft::spawn([] {}).join();  // starts the default runtime
        std::atexit([] { (void)!::write(exit_pipe[1], "x", 1); });
        weft::spawn([] {
          const bool ready = weft::net::wait_readable(exit_pipe[0], 1h);
          std::fprintf(stderr, "woke: %d\n", ready ? 1 : 0);
        }).detach();
        wait_until_parked(weft::default_runtime(), 1);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "woke: 1");
}

INSTANTIATE_TEST_SUITE_P(Workers, Net, ::testing::Values(1u, 2u, 4u), [](const auto& param_info) {
  return std::to_string(param_info.param) + "Workers";
});

}  // namespace
