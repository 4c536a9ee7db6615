// channel<T> and select: semantics, close races, move-only values, misuse,
// and stress with 1/2/4/8 workers checking every value is delivered exactly
// once and in per-sender order.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft::channel_status;
using weft::test::scaled;

TEST(Channel, BufferedFifoAndStatus) {
  weft::channel<int> ch(3);
  EXPECT_EQ(ch.capacity(), 3U);
  EXPECT_EQ(ch.try_send(1), channel_status::ok);
  EXPECT_EQ(ch.try_send(2), channel_status::ok);
  EXPECT_EQ(ch.try_send(3), channel_status::ok);
  EXPECT_EQ(ch.try_send(4), channel_status::full);
  EXPECT_EQ(ch.size(), 3U);
  int v = 0;
  EXPECT_EQ(ch.try_recv(v), channel_status::ok);
  EXPECT_EQ(v, 1);
  EXPECT_EQ(ch.recv(), 2);
  EXPECT_TRUE(ch.close());
  EXPECT_FALSE(ch.close());
  EXPECT_TRUE(ch.is_closed());
  EXPECT_EQ(ch.recv(), 3);  // buffered before close: still delivered
  EXPECT_EQ(ch.recv(), std::nullopt);
  EXPECT_EQ(ch.try_recv(v), channel_status::closed);
  EXPECT_THROW(ch.send(5), weft::channel_closed);
  EXPECT_EQ(ch.try_send(5), channel_status::closed);
}

TEST(Channel, UnbufferedNeedsAReceiver) {
  weft::channel<int> ch;
  EXPECT_EQ(ch.try_send(1), channel_status::full);
  int v = 0;
  EXPECT_EQ(ch.try_recv(v), channel_status::empty);
  EXPECT_EQ(ch.send_for(1, 1ms), channel_status::timeout);
  EXPECT_EQ(ch.recv_for(v, 1ms), channel_status::timeout);
  weft::runtime rt(weft::options{.workers = 2});
  auto receiver = rt.spawn([ch]() mutable { return ch.recv(); });
  ch.send(42);  // plain thread hands the value straight to the fiber
  EXPECT_EQ(receiver.join(), 42);
}

TEST(Channel, FailedTrySendLeavesTheArgumentUntouched) {
  weft::channel<std::unique_ptr<int>> ch(1);
  auto a = std::make_unique<int>(1);
  auto b = std::make_unique<int>(2);
  EXPECT_EQ(ch.try_send(std::move(a)), channel_status::ok);
  EXPECT_EQ(a, nullptr);  // moved: ok
  EXPECT_EQ(ch.try_send(std::move(b)), channel_status::full);
  ASSERT_NE(b, nullptr);  // not moved: full
  EXPECT_EQ(*b, 2);
  EXPECT_EQ(ch.send_for(std::move(b), 1ms), channel_status::timeout);
  ASSERT_NE(b, nullptr);
  ch.close();
  EXPECT_EQ(ch.try_send(std::move(b)), channel_status::closed);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(*ch.recv().value(), 1);
}

TEST(Channel, MoveOnlyValuesAndRangeFor) {
  weft::runtime rt(weft::options{.workers = 2});
  weft::channel<std::unique_ptr<std::string>> ch(2);
  auto producer = rt.spawn([ch]() mutable {
    for (int i = 0; i < 100; ++i) ch.send(std::make_unique<std::string>(std::to_string(i)));
    ch.close();
  });
  int expected = 0;
  for (auto& p : ch) EXPECT_EQ(*p, std::to_string(expected++));
  EXPECT_EQ(expected, 100);
  producer.join();
}

TEST(Channel, CloseWakesBlockedSendersAndReceivers) {
  weft::runtime rt(weft::options{.workers = 2});
  weft::channel<int> unbuffered;
  weft::channel<int> full(1);
  full.send(0);
  auto sender = rt.spawn([unbuffered]() mutable {
    try {
      unbuffered.send(1);
    } catch (const weft::channel_closed&) {
      return true;
    }
    return false;
  });
  auto blocked_sender = rt.spawn([full]() mutable {
    int v = 2;
    return full.send_for(std::move(v), 1h);
  });
  auto receiver = rt.spawn([unbuffered]() mutable { return unbuffered.recv(); });
  // Wait until all three are parked on the channels.
  for (;;) {
    int parked = 0;
    for (const auto& f : rt.fibers()) {
      parked += f.waiting_on == weft::wait_kind::channel_send ||
                f.waiting_on == weft::wait_kind::channel_recv;
    }
    // The unbuffered sender and receiver may meet each other instead.
    if (parked == 3 || (parked == 1 && sender.done() && receiver.done())) break;
    std::this_thread::yield();
  }
  unbuffered.close();
  full.close();
  const bool sender_saw_close = sender.join();
  const std::optional<int> got = receiver.join();
  // Either they met (value delivered once) or both saw the close.
  EXPECT_TRUE((sender_saw_close && !got) || (!sender_saw_close && got == 1));
  EXPECT_EQ(blocked_sender.join(), channel_status::closed);
  EXPECT_EQ(full.recv(), 0);  // buffered before close
  EXPECT_EQ(full.recv(), std::nullopt);
}

TEST(Channel, WaitReasonsAreVisible) {
  weft::runtime rt(weft::options{.workers = 1});
  weft::channel<int> ch;
  auto r = rt.spawn(weft::spawn_options{.name = "reader"}, [ch]() mutable { return ch.recv(); });
  weft::fiber_info info;
  while (info.waiting_on != weft::wait_kind::channel_recv ||
         info.state != weft::fiber_state::parked) {
    for (const auto& f : rt.fibers()) {
      if (f.name == "reader") info = f;
    }
    std::this_thread::yield();
  }
  ch.send(1);
  EXPECT_EQ(r.join(), 1);
}

class Channels : public ::testing::TestWithParam<unsigned> {
 protected:
  weft::runtime rt{weft::options{.workers = GetParam()}};
};

// Values are (sender << 32 | sequence): receivers check exactly-once
// delivery and per-sender order.
std::uint64_t encode(std::uint64_t sender, std::uint64_t seq) { return sender << 32 | seq; }

void stress(weft::runtime& rt, std::size_t capacity, bool close_early) {
  constexpr int senders = 6, receivers = 4;
  const std::uint64_t per_sender = scaled(20'000);
  weft::channel<std::uint64_t> ch(capacity);
  std::atomic<int> senders_left{senders};
  std::vector<weft::join_handle<std::vector<std::uint64_t>>> rs;
  for (int r = 0; r < receivers; ++r) {
    rs.push_back(rt.spawn([ch]() mutable {
      std::vector<std::uint64_t> got;
      while (auto v = ch.recv()) got.push_back(*v);
      return got;
    }));
  }
  std::vector<weft::join_handle<std::uint64_t>> ss;
  std::vector<std::thread> threads;
  std::vector<std::uint64_t> sent_by_thread(senders, 0);
  for (int s = 0; s < senders; ++s) {
    auto body = [ch, s, per_sender, &senders_left, close_early]() mutable -> std::uint64_t {
      std::uint64_t sent = 0;
      for (std::uint64_t i = 0; i < per_sender; ++i) {
        try {
          ch.send(encode(static_cast<std::uint64_t>(s), i));
          ++sent;
        } catch (const weft::channel_closed&) {
          break;
        }
        if (close_early && s == 0 && i == per_sender / 2) ch.close();
      }
      if (senders_left.fetch_sub(1) == 1) ch.close();
      return sent;
    };
    if (s % 3 == 2) {
      threads.emplace_back([body, s, &sent_by_thread]() mutable { sent_by_thread[s] = body(); });
    } else {
      ss.push_back(rt.spawn(body));
    }
  }
  std::uint64_t sent_total = 0;
  for (auto& h : ss) sent_total += h.join();
  for (auto& t : threads) t.join();
  for (auto v : sent_by_thread) sent_total += v;
  std::map<std::uint64_t, std::uint64_t> next_seq;  // sender -> next expected sequence
  std::uint64_t received = 0;
  for (auto& r : rs) {
    std::map<std::uint64_t, std::uint64_t> last_seen;
    for (std::uint64_t v : r.join()) {
      const std::uint64_t sender = v >> 32, seq = v & 0xFFFFFFFF;
      // Per receiver, one sender's values arrive in increasing order.
      auto it = last_seen.find(sender);
      if (it != last_seen.end()) {
        EXPECT_LT(it->second, seq);
      }
      last_seen[sender] = seq;
      ++next_seq[sender];
      ++received;
    }
  }
  // Exactly once: every successfully sent value was received, no more.
  EXPECT_EQ(received, sent_total);
  if (!close_early) {
    EXPECT_EQ(received, senders * per_sender);
  }
}

TEST_P(Channels, UnbufferedEveryValueExactlyOnce) { stress(rt, 0, false); }
TEST_P(Channels, BufferedEveryValueExactlyOnce) { stress(rt, 16, false); }
TEST_P(Channels, CloseRacingSendersLosesNothing) { stress(rt, 4, true); }
TEST_P(Channels, CloseRacingUnbufferedLosesNothing) { stress(rt, 0, true); }

TEST_P(Channels, PingPongManyShortRendezvous) {
  // The lost-wake-up window forced by many short park/wake cycles.
  weft::channel<int> ping, pong;
  const int rounds = static_cast<int>(scaled(20'000));
  auto echo = rt.spawn([ping, pong]() mutable {
    while (auto v = ping.recv()) pong.send(*v + 1);
  });
  const int last = rt.block_on([&] {
    int v = 0;
    for (int i = 0; i < rounds; ++i) {
      ping.send(v);
      v = *pong.recv();
    }
    ping.close();
    return v;
  });
  echo.join();
  EXPECT_EQ(last, rounds);
}

// ---- select

TEST(Select, PerformsTheReadyCase) {
  weft::channel<int> a(1), b(1);
  b.send(7);
  int got = 0;
  const std::size_t idx = weft::select(weft::on_recv(a, [&](std::optional<int>) { got = -1; }),
                                       weft::on_recv(b, [&](std::optional<int> v) { got = *v; }));
  EXPECT_EQ(idx, 1U);
  EXPECT_EQ(got, 7);
  EXPECT_EQ(b.size(), 0U);
}

TEST(Select, DefaultMakesItNonBlocking) {
  weft::channel<int> a;
  bool defaulted = false;
  EXPECT_EQ(weft::select(weft::on_recv(a, [](std::optional<int>) {}),
                         weft::on_default([&] { defaulted = true; })),
            1U);
  EXPECT_TRUE(defaulted);
  // A send case that cannot proceed leaves its value unused.
  EXPECT_EQ(weft::select(weft::on_send(a, 5, [] {}), weft::on_default([] {})), 1U);
  EXPECT_EQ(a.size(), 0U);
}

TEST(Select, TimeoutFiresAndLeavesNoStaleWaiter) {
  weft::runtime rt(weft::options{.workers = 1});
  weft::channel<int> a;
  const auto start = std::chrono::steady_clock::now();
  const std::size_t idx = rt.block_on([a]() mutable {
    return weft::select(weft::on_recv(a, [](std::optional<int>) {}), weft::on_timeout(2ms, [] {}));
  });
  EXPECT_EQ(idx, 1U);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 2ms);
  // No stale receiver left in the channel: a try_send finds nobody.
  EXPECT_EQ(a.try_send(1), channel_status::full);
}

TEST(Select, ClosedChannelIsReadyToReceive) {
  weft::channel<int> a, b;
  a.close();
  bool saw_nullopt = false;
  EXPECT_EQ(weft::select(weft::on_recv(a, [&](std::optional<int> v) { saw_nullopt = !v; }),
                         weft::on_recv(b, [](std::optional<int>) {})),
            0U);
  EXPECT_TRUE(saw_nullopt);
  EXPECT_THROW(weft::select(weft::on_send(a, 1, [] {})), weft::channel_closed);
}

TEST(Select, ReadyCasesAreChosenUniformly) {
  weft::channel<int> a(1000), b(1000), c(1000);
  constexpr int trials = 3000;
  int hits[3] = {0, 0, 0};
  for (int i = 0; i < trials; ++i) {
    a.try_send(1);
    b.try_send(1);
    c.try_send(1);
    const std::size_t idx = weft::select(weft::on_recv(a, [](std::optional<int>) {}),
                                         weft::on_recv(b, [](std::optional<int>) {}),
                                         weft::on_recv(c, [](std::optional<int>) {}));
    ASSERT_LT(idx, 3U);
    ++hits[idx % 3];
    int drop = 0;
    if (idx != 0) a.try_recv(drop);
    if (idx != 1) b.try_recv(drop);
    if (idx != 2) c.try_recv(drop);
  }
  // Uniform: each about 1000; a 5-sigma band (sigma ~ 26) never fails by chance.
  for (int h : hits) {
    EXPECT_GT(h, 870);
    EXPECT_LT(h, 1130);
  }
}

TEST_P(Channels, SelectExactlyOneCaseUnderContention) {
  // Senders feed two channels; selecting receivers take from either. Every
  // value is delivered exactly once, through exactly one case.
  weft::channel<int> a, b(2);
  const int per_channel = static_cast<int>(scaled(10'000));
  std::atomic<long> sum{0};
  std::atomic<int> count{0};
  std::vector<weft::join_handle<void>> hs;
  for (int r = 0; r < 4; ++r) {
    hs.push_back(rt.spawn([&, a, b]() mutable {
      bool a_open = true, b_open = true;
      while (a_open || b_open) {
        weft::select(weft::on_recv(a_open ? a : b,
                                   [&](std::optional<int> v) {
                                     if (!v) {
                                       (a_open ? a_open : b_open) = false;
                                       return;
                                     }
                                     sum.fetch_add(*v);
                                     count.fetch_add(1);
                                   }),
                     weft::on_recv(b_open ? b : a, [&](std::optional<int> v) {
                       if (!v) {
                         (b_open ? b_open : a_open) = false;
                         return;
                       }
                       sum.fetch_add(*v);
                       count.fetch_add(1);
                     }));
      }
    }));
  }
  auto feed = [per_channel](weft::channel<int> ch) {
    for (int i = 1; i <= per_channel; ++i) ch.send(i);
    ch.close();
  };
  auto fa = rt.spawn(feed, a);
  std::thread fb(feed, b);
  fa.join();
  fb.join();
  for (auto& h : hs) h.join();
  EXPECT_EQ(count.load(), 2 * per_channel);
  EXPECT_EQ(sum.load(), 2L * per_channel * (per_channel + 1) / 2);
}

TEST_P(Channels, SelectSendAndTimeoutRace) {
  // Many short selects whose timeout races a receiver: exactly one of the
  // send case and the timeout completes each time, so every value the
  // select reports as sent is received, and no other.
  weft::channel<int> ch;
  const int rounds = static_cast<int>(scaled(4'000));
  std::atomic<bool> done{false};
  auto receiver = rt.spawn([ch, &done]() mutable {
    long got = 0;
    int v = 0;
    while (!done.load()) {
      if (ch.recv_for(v, 50us) == channel_status::ok) got += v;
    }
    while (ch.try_recv(v) == channel_status::ok) got += v;
    return got;
  });
  long sent = rt.block_on([&] {
    long total = 0;
    for (int i = 1; i <= rounds; ++i) {
      weft::select(weft::on_send(ch, i, [&total, i] { total += i; }),
                   weft::on_timeout(std::chrono::microseconds(i % 30), [] {}));
    }
    return total;
  });
  done.store(true);
  EXPECT_EQ(receiver.join(), sent);
}

INSTANTIATE_TEST_SUITE_P(Workers, Channels, ::testing::ValuesIn(weft::test::worker_counts),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "Workers";
                         });

}  // namespace
