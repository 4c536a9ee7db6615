// Stall warnings. See stall_watch.hpp.
#include "diagnostics/stall_watch.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "diagnostics/fiber_dump.hpp"
#include "diagnostics/stack_unwinder.hpp"
#include "fiber/fiber.hpp"
#include "scheduler/runtime_core.hpp"
#include "scheduler/worker.hpp"

namespace weft::detail {

namespace {

constexpr int capture_signal = SIGURG;
// How long the watch waits for a worker to take the signal.
constexpr auto capture_timeout = std::chrono::seconds(1);
constexpr std::size_t max_frames = 128;

struct sigaction previous_action;  // written once, before our handler is installed

void pass_on(int signo, siginfo_t* info, void* context) {
  if (previous_action.sa_flags & SA_SIGINFO) {
    if (previous_action.sa_sigaction != nullptr) previous_action.sa_sigaction(signo, info, context);
  } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(signo);
  }
}

// On the worker's thread (and its alternate signal stack): freezes the
// interrupted stack for the watch (stall_capture.hpp).
void on_capture_signal(int signo, siginfo_t* info, void* context) {
  worker* const w = worker::current();
  std::uint32_t expected = stall_capture::requested;
  if (w == nullptr || !w->stall_slot().state.compare_exchange_strong(
                          expected, stall_capture::capturing, std::memory_order_acq_rel)) {
    pass_on(signo, info, context);
    return;
  }
  stall_capture& slot = w->stall_slot();
#if defined(__x86_64__)
  const greg_t* r = static_cast<const ucontext_t*>(context)->uc_mcontext.gregs;
  slot.registers.pc = static_cast<std::uintptr_t>(r[REG_RIP]);
  slot.registers.sp = static_cast<std::uintptr_t>(r[REG_RSP]);
  slot.registers.rbp = static_cast<std::uintptr_t>(r[REG_RBP]);
  slot.registers.rbx = static_cast<std::uintptr_t>(r[REG_RBX]);
  slot.registers.r12 = static_cast<std::uintptr_t>(r[REG_R12]);
  slot.registers.r13 = static_cast<std::uintptr_t>(r[REG_R13]);
  slot.registers.r14 = static_cast<std::uintptr_t>(r[REG_R14]);
  slot.registers.r15 = static_cast<std::uintptr_t>(r[REG_R15]);
#else
  slot.registers = saved_registers{};  // unknown layout: the warning goes without a stack
#endif
  slot.running = w->running();
  // release: the registers and `running` to the watch's acquire.
  slot.state.store(stall_capture::captured, std::memory_order_release);
  // acquire: the watch is done with this stack.
  while (slot.state.load(std::memory_order_acquire) != stall_capture::released) sched_yield();
  slot.state.store(stall_capture::idle, std::memory_order_release);
}

void install_capture_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = &on_capture_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigaction(capture_signal, &action, &previous_action);
  });
}

// Waits until `slot` reaches `wanted`, at most until `deadline`.
bool await_phase(const stall_capture& slot, std::uint32_t wanted,
                 std::chrono::steady_clock::time_point deadline) {
  while (slot.state.load(std::memory_order_acquire) != wanted) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Four looks per threshold: a stall is noticed within 1.25 thresholds.
std::chrono::milliseconds look_period(std::chrono::milliseconds threshold) {
  return std::max<std::chrono::milliseconds>(threshold / 4, std::chrono::milliseconds(1));
}

}  // namespace

stall_watch::stall_watch(runtime_core& core, std::chrono::milliseconds threshold)
    : core_(core),
      threshold_(threshold),
      looks_(core.worker_count()),
      thread_(look_period(threshold), [this] { check_all(); }) {}

void stall_watch::check_all() {
  const std::int64_t now = steady_now_ns();
  for (unsigned i = 0; i < looks_.size(); ++i) check(i, looks_[i], now);
}

void stall_watch::check(unsigned index, look& last, std::int64_t now_ns) {
  const worker& w = core_.worker_at(index);
  const std::uint32_t tick = w.tick();
  if (!w.awake() || tick != last.tick || last.since_ns == 0) {
    last = look{tick, now_ns, false};
    return;
  }
  const std::int64_t stalled = now_ns - last.since_ns;
  if (last.warned || stalled < std::chrono::nanoseconds(threshold_).count()) return;
  last.warned = true;
  warn(index, stalled);
}

void stall_watch::warn(unsigned index, std::int64_t stalled_ns) {
  worker& w = core_.worker_at(index);
  stall_capture& slot = w.stall_slot();
  std::ostringstream out;
  out << "weft: stall: worker " << index << " of runtime \"" << core_.opts.name << "\" has run ";
  install_capture_handler();  // once per process, before the first signal
  std::uint32_t expected = stall_capture::idle;
  bool captured = false;
  if (slot.state.compare_exchange_strong(expected, stall_capture::requested,
                                         std::memory_order_acq_rel) &&
      pthread_kill(w.native_thread(), capture_signal) == 0) {
    const auto deadline = std::chrono::steady_clock::now() + capture_timeout;
    captured = await_phase(slot, stall_capture::captured, deadline);
    if (!captured) {
      expected = stall_capture::requested;
      // Taken back unless the handler came in meanwhile; then it is coming.
      if (!slot.state.compare_exchange_strong(expected, stall_capture::idle,
                                              std::memory_order_acq_rel)) {
        captured = await_phase(slot, stall_capture::captured,
                               std::chrono::steady_clock::time_point::max());
      }
    }
  }
  if (captured) {
    // The worker waits in the handler: its stack and running fiber hold still.
    const fiber* f = slot.running;
    std::uintptr_t low = 0, high = 0;
    if (f != nullptr) {
      out << "fiber " << f->id;
      if (!f->name().empty()) out << " \"" << f->name() << '"';
      low = reinterpret_cast<std::uintptr_t>(f->stack.bottom);
      high = reinterpret_cast<std::uintptr_t>(f->stack.top());
    } else {
      out << "its own scheduling code";
      const execution_stack own = w.own_stack();
      low = reinterpret_cast<std::uintptr_t>(own.bottom);
      high = low + own.size;
    }
    out << " for " << std::fixed << std::setprecision(3) << static_cast<double>(stalled_ns) / 1e9
        << " s without a switch (a blocking call, a std::mutex, a long loop?); every fiber "
           "queued on that worker waits. It is at:\n";
    stack_unwinder unwinder;
    const auto pcs = unwinder.unwind(slot.registers, low, high, max_frames);
    const std::vector<stack_frame> frames = symbolize_frames(pcs, unwinder, true);
    for (std::size_t i = 0; i < frames.size(); ++i) write_frame(out, i, frames[i]);
    // release: we are done reading the worker's stack.
    slot.state.store(stall_capture::released, std::memory_order_release);
    await_phase(slot, stall_capture::idle, std::chrono::steady_clock::time_point::max());
  } else {
    out << "one fiber for " << std::fixed << std::setprecision(3)
        << static_cast<double>(stalled_ns) / 1e9
        << " s without a switch; its stack could not be read (the worker did not take the "
           "signal)\n";
  }
  const std::string text = out.str();
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace weft::detail
