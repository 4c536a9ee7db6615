// Stack-overflow reports. See stack_overflow.hpp.
#include "fiber/stack_overflow.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "fiber/fiber.hpp"
#include "scheduler/runtime_core.hpp"
#include "scheduler/worker.hpp"

namespace weft::detail {

namespace {

struct sigaction previous_segv {};
struct sigaction previous_bus {};

// Async-signal-safe text building: no malloc, no stdio.
class signal_text {
 public:
  void add(const char* s) noexcept {
    while (*s && used_ < sizeof(buf_)) buf_[used_++] = *s++;
  }
  void add(std::uint64_t n) noexcept {
    char digits[24];
    int count = 0;
    do {
      digits[count++] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n && count < 24);
    while (count > 0 && used_ < sizeof(buf_)) buf_[used_++] = digits[--count];
  }
  void write_to_stderr() const noexcept {
    std::size_t done = 0;
    while (done < used_) {
      const ssize_t n = ::write(STDERR_FILENO, buf_ + done, used_ - done);
      if (n <= 0) return;
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  char buf_[512];
  std::size_t used_ = 0;
};

void forward_to_previous(int sig, siginfo_t* info, void* context) {
  const struct sigaction& prev = sig == SIGBUS ? previous_bus : previous_segv;
  if ((prev.sa_flags & SA_SIGINFO) && prev.sa_sigaction) {
    prev.sa_sigaction(sig, info, context);
  } else if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
    // Restore the default action; returning re-executes the faulting
    // instruction, which now kills the process with the original signal.
    signal(sig, SIG_DFL);
  } else {
    prev.sa_handler(sig);
  }
}

void on_fault(int sig, siginfo_t* info, void* context) {
  const worker* w = worker::current();
  const fiber* f = w ? w->running() : nullptr;
  if (f && f->stack.guard_contains(info->si_addr)) {
    signal_text text;
    text.add("weft: stack overflow in fiber ");
    text.add(f->id);
    text.add(" \"");
    text.add(f->name_c_str());
    text.add("\" (stack ");
    const std::size_t requested =
        f->stack_request != 0 ? f->stack_request : f->core.stacks.default_size();
    text.add(static_cast<std::uint64_t>(requested / 1024));
    text.add(" KiB");
    if (f->inline_host) {
      // Joined before it started: it ran on its joiner's stack (inline_join.hpp).
      text.add(", run inline by fiber ");
      text.add(f->inline_host->id);
    }
    text.add(")\n");
    text.write_to_stderr();
    std::abort();
  }
  forward_to_previous(sig, info, context);
}

// Large enough for the handler and for a sanitizer's handler we forward to.
constexpr std::size_t signal_stack_bytes = 64 * 1024;

}  // namespace

void install_stack_overflow_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = &on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
    sigaction(SIGBUS, &action, &previous_bus);
  });
}

alternate_signal_stack::alternate_signal_stack() noexcept {
  const std::size_t bytes = signal_stack_bytes > static_cast<std::size_t>(SIGSTKSZ)
                                ? signal_stack_bytes
                                : static_cast<std::size_t>(SIGSTKSZ);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;  // no report on overflow, but the worker still runs
  stack_t ss{};
  ss.ss_sp = p;
  ss.ss_size = bytes;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(p, bytes);
    return;
  }
  memory_ = p;
  size_ = bytes;
}

alternate_signal_stack::~alternate_signal_stack() {
  if (!memory_) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(memory_, size_);
}

}  // namespace weft::detail
