// A program that gets stuck, and how to see where: two "transfer" fibers
// take two account mutexes in opposite orders and deadlock, a third fiber
// waits to join one of them.
//
//   stuck_fibers          once both transfers are stuck in lock(), dumps its
//                         own fibers (runtime::dump), lists the deadlocks
//                         (runtime::find_deadlocks) and exits 0 if it
//                         found the one it made
//   stuck_fibers --wait   prints "ready <pid>" and waits: the stuck process
//                         of docs/diagnostics.md, for `kill -QUIT <pid>`
//                         with WEFT_DUMP_SIGNAL=QUIT in its environment
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <vector>
#include <weft/weft.hpp>

namespace {

struct account {
  weft::mutex lock;
  long balance = 100;
};

account savings, checking;
weft::latch both_hold_their_first(2);

// noinline keeps each step a frame of its own in the dump.
[[gnu::noinline]] void transfer(account& from, account& to, long amount) {
  const std::lock_guard first(from.lock);
  both_hold_their_first.arrive_and_wait();  // now each holds what the other needs
  const std::lock_guard second(to.lock);
  from.balance -= amount;
  to.balance += amount;
}

bool both_stuck(const weft::runtime& rt) {
  int stuck = 0;
  for (const weft::fiber_info& f : rt.fibers()) {
    stuck += f.state == weft::fiber_state::parked && f.waiting_on == weft::wait_kind::mutex;
  }
  return stuck == 2;
}

}  // namespace

int main(int argc, char** argv) {
  const bool wait_for_signal = argc > 1 && std::strcmp(argv[1], "--wait") == 0;
  // The runtime is never destroyed: its fibers never finish.
  auto* rt = new weft::runtime(weft::options{.workers = 2});
  auto a = rt->spawn(weft::spawn_options{.name = "savings->checking"},
                     [] { transfer(savings, checking, 10); });
  rt->spawn(weft::spawn_options{.name = "checking->savings"}, [] {
      transfer(checking, savings, 20);
    }).detach();
  rt->spawn(weft::spawn_options{.name = "auditor"}, [&a] { a.join(); }).detach();
  while (!both_stuck(*rt)) usleep(1000);

  if (wait_for_signal) {
    std::printf("ready %d\n", static_cast<int>(getpid()));
    std::fflush(stdout);
    for (;;) pause();
  }
  rt->dump(std::cout);
  const std::vector<weft::deadlock> found = rt->find_deadlocks();
  for (const weft::deadlock& d : found) {
    std::cout << "deadlock:";
    for (const weft::fiber_info& f : d.cycle) {
      std::cout << " \"" << f.name << "\" waits for fiber " << f.blocked_by << ";";
    }
    std::cout << '\n';
  }
  std::cout.flush();
  // Past a deadlock, nothing can be joined or destroyed.
  std::_Exit(found.size() == 1 && found[0].cycle.size() == 2 ? 0 : 1);
}
