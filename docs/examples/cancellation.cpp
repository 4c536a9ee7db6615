// Cancellation and timeouts: stopping a fiber parked on a channel, a
// deadline over a block of code, clean-up that must finish, and a
// task_group whose first failure stops the rest. docs/cancellation.md
// walks through it; the tests run it.
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <stop_token>
#include <weft/weft.hpp>

using namespace std::chrono_literals;

int main() {
  weft::runtime rt(weft::options{.workers = 2});
  bool ok = true;

  // 1. A consumer parked on a channel is told to stop; it takes nothing.
  weft::channel<int> jobs(8);
  auto consumer = rt.spawn([&] {
    int handled = 0;
    try {
      while (auto job = jobs.recv()) ++handled;
    } catch (const weft::cancelled&) {
      std::printf("consumer: cancelled after %d jobs\n", handled);
      throw;  // ends the fiber; join() rethrows weft::cancelled
    }
    return handled;
  });
  rt.block_on([&] {
    for (int i = 0; i < 3; ++i) jobs.send(i);
  });
  while (jobs.size() != 0) weft::this_fiber::yield();  // all three taken
  consumer.cancel();
  try {
    consumer.join();
    ok = false;
  } catch (const weft::cancelled&) {
  }

  // 2. A deadline over a block of code: every wait inside is covered.
  weft::channel<int> replies(0);
  rt.block_on([&] {
    try {
      weft::with_timeout(20ms, [&] {
        weft::this_fiber::sleep_for(1ms);  // in time
        return replies.recv();             // never answered
      });
      ok = false;
    } catch (const weft::timeout_error& e) {
      std::printf("request: %s\n", e.what());
    }
  });

  // 3. Clean-up that must finish: a shield keeps its waits from being cut.
  weft::channel<int> audit(1);
  weft::latch started(1);
  auto worker = rt.spawn([&](std::stop_token token) {
    started.count_down();
    while (!token.stop_requested()) weft::this_fiber::yield();  // computes, polls
    const weft::cancellation_shield shield;
    audit.send(1);  // delivered even though the fiber is cancelled
  });
  started.wait();  // a fiber cancelled before it starts never runs at all
  worker.cancel();
  worker.join();
  int entry = 0;
  ok = ok && audit.try_recv(entry) == weft::channel_status::ok && entry == 1;

  // 4. The first failure of a task_group cancels its other tasks.
  rt.block_on([&] {
    weft::channel<int> never(0);
    weft::task_group group;
    for (int i = 0; i < 3; ++i) group.spawn([&] { (void)never.recv(); });
    group.spawn([] { throw std::runtime_error("backend unreachable"); });
    try {
      group.wait();
      ok = false;
    } catch (const std::runtime_error& e) {
      std::printf("group: %s; the others were cancelled\n", e.what());
    }
  });
  return ok ? 0 : 1;
}
