// Google Benchmark micro-benchmarks: raw context switch (the floor), yield,
// spawn+join from a fiber and from a plain thread, uncontended mutex,
// channel send/recv, deque operations, steal.
#include <benchmark/benchmark.h>

#include <atomic>
#include <boost/context/detail/fcontext.hpp>
#include <thread>
#include <vector>

#include "scheduler/local_queue.hpp"
#include "weft/weft.hpp"

namespace {

namespace fctx = boost::context::detail;

// ---- raw fcontext ping-pong: what one switch costs with no scheduler at all

void bounce(fctx::transfer_t t) {
  for (;;) t = fctx::jump_fcontext(t.fctx, nullptr);
}

void BM_RawSwitch(benchmark::State& state) {
  std::vector<char> stack(64 * 1024);
  fctx::fcontext_t other = fctx::make_fcontext(stack.data() + stack.size(), stack.size(), &bounce);
  for (auto _ : state) {
    other = fctx::jump_fcontext(other, nullptr).fctx;  // there and back: two switches
  }
  state.SetItemsProcessed(2 * state.iterations());
  state.SetLabel("items = switches");
}
BENCHMARK(BM_RawSwitch);

// ---- yield between two fibers on one worker

void BM_Yield(benchmark::State& state) {
  weft::runtime rt(weft::options{.workers = 1});
  std::atomic<bool> stop{false};
  rt.block_on([&] {
    auto partner = weft::spawn([&stop] {
      while (!stop.load(std::memory_order_relaxed)) weft::this_fiber::yield();
    });
    for (auto _ : state) weft::this_fiber::yield();  // to the partner and back
    stop.store(true);
    partner.join();
  });
  state.SetItemsProcessed(2 * state.iterations());
  state.SetLabel("items = switches");
}
BENCHMARK(BM_Yield)->UseRealTime();

// ---- spawn + join

void BM_SpawnJoinFromFiber(benchmark::State& state) {
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(state.range(0))});
  rt.block_on([&state] {
    for (auto _ : state) weft::spawn([] {}).join();
  });
}
BENCHMARK(BM_SpawnJoinFromFiber)->Arg(1)->Arg(2)->UseRealTime();

void BM_SpawnJoinFromThread(benchmark::State& state) {
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(state.range(0))});
  for (auto _ : state) rt.spawn([] {}).join();
}
BENCHMARK(BM_SpawnJoinFromThread)->Arg(1)->Arg(2)->UseRealTime();

void BM_SpawnBatchThenJoin(benchmark::State& state) {
  // 64 spawns then 64 joins: the fork-join shape (children queued, joined later).
  weft::runtime rt(weft::options{.workers = static_cast<unsigned>(state.range(0))});
  rt.block_on([&state] {
    std::vector<weft::join_handle<void>> hs(64);
    for (auto _ : state) {
      for (auto& h : hs) h = weft::spawn([] {});
      for (auto& h : hs) h.join();
    }
  });
  state.SetItemsProcessed(64 * state.iterations());
}
BENCHMARK(BM_SpawnBatchThenJoin)->Arg(1)->Arg(2)->UseRealTime();

// ---- synchronization

void BM_MutexUncontended(benchmark::State& state) {
  weft::mutex m;
  for (auto _ : state) {
    m.lock();
    m.unlock();
  }
}
BENCHMARK(BM_MutexUncontended);

void BM_MutexUncontendedInFiber(benchmark::State& state) {
  weft::runtime rt(weft::options{.workers = 1});
  weft::mutex m;
  rt.block_on([&] {
    for (auto _ : state) {
      m.lock();
      m.unlock();
    }
  });
}
BENCHMARK(BM_MutexUncontendedInFiber)->UseRealTime();

void BM_ChannelBufferedSendRecv(benchmark::State& state) {
  // One thread, a buffered channel: the cost of the channel lock and the ring.
  weft::channel<int> ch(64);
  int v = 0;
  for (auto _ : state) {
    ch.try_send(1);
    ch.try_recv(v);
  }
  benchmark::DoNotOptimize(v);
}
BENCHMARK(BM_ChannelBufferedSendRecv);

void BM_ChannelUnbufferedRoundTrip(benchmark::State& state) {
  // Two fibers on one worker: send and receive back over unbuffered
  // channels (two parks and two wakes per iteration).
  weft::runtime rt(weft::options{.workers = 1});
  weft::channel<int> ping, pong;
  auto echo = rt.spawn([ping, pong]() mutable {
    while (auto v = ping.recv()) pong.send(*v);
  });
  rt.block_on([&] {
    for (auto _ : state) {
      ping.send(1);
      benchmark::DoNotOptimize(pong.recv());
    }
    ping.close();
  });
  echo.join();
}
BENCHMARK(BM_ChannelUnbufferedRoundTrip)->UseRealTime();

// ---- the Chase-Lev deque

void BM_DequePushPop(benchmark::State& state) {
  weft::detail::local_queue<void*> q;
  auto owner = q.owner_handle();
  int item = 0;
  for (auto _ : state) {
    owner.push(&item);
    benchmark::DoNotOptimize(owner.pop());
  }
}
BENCHMARK(BM_DequePushPop);

void BM_DequePushSteal(benchmark::State& state) {
  // Uncontended steal: the cost of the CAS path a thief pays per fiber.
  weft::detail::local_queue<void*> q;
  auto owner = q.owner_handle();
  auto thief = q.stealer_handle();
  int item = 0;
  for (auto _ : state) {
    owner.push(&item);
    benchmark::DoNotOptimize(thief.steal());
  }
}
BENCHMARK(BM_DequePushSteal);

void BM_StealFromBusyOwner(benchmark::State& state) {
  // A thief thread steals while the owner keeps the deque stocked: cross-core
  // cost of one steal, as idle workers pay it in fork-join runs.
  weft::detail::local_queue<void*> q;
  auto owner = q.owner_handle();
  auto thief = q.stealer_handle();
  std::atomic<bool> stop{false};
  int item = 0;
  std::thread producer([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (owner.size_estimate() < 64) {
        owner.push(&item);
      }
    }
  });
  std::int64_t stolen = 0;
  for (auto _ : state) {
    if (thief.steal().status == weft::detail::steal_status::success) ++stolen;
  }
  stop.store(true);
  producer.join();
  state.counters["stolen"] = static_cast<double>(stolen);
}
BENCHMARK(BM_StealFromBusyOwner)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
