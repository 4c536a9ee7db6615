// Fiber dumps: runtime::fibers(fiber_detail), runtime::dump, dump_all and
// the dump signal. See fiber_dump.hpp and docs/diagnostics.md.
#include "diagnostics/fiber_dump.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "diagnostics/stack_unwinder.hpp"
#include "diagnostics/wait_graph.hpp"
#include "fiber/fiber.hpp"
#include "platform/system_error.hpp"
#include "scheduler/runtime_core.hpp"
#include "weft/diagnostics.hpp"
#include "weft/trace.hpp"

namespace weft {

namespace detail {

namespace {

// Every runtime of the process, for dump_all. Never destroyed: a runtime
// may be destroyed during static destruction, after this list would be.
struct runtime_list {
  std::mutex lock;  // held for a whole dump_all, so a runtime outlives its dump
  std::vector<runtime_core*> cores;
};

runtime_list& runtimes() {
  static auto* list = new runtime_list;
  return *list;
}

// The runtime's own frames at either end of a stack (the switch and the
// wait machinery; the entry trampoline, the task wrapper and the standard
// library's invoke) say nothing to the reader: a dump starts at the first
// frame a user would recognize (the public call that waits, e.g.
// weft::mutex::lock) and ends at the fiber's function, as Go's goroutine
// dumps do.
bool runtime_frame(const stack_frame& frame) {
  const std::string_view f = frame.function;
  return f.starts_with("weft::detail::") || f.starts_with("boost::context::") ||
         f == "make_fcontext" || f == "jump_fcontext";
}

bool entry_frame(const stack_frame& frame) {
  const std::string_view f = frame.function;
  return runtime_frame(frame) || f.starts_with("std::__invoke") || f.starts_with("std::invoke") ||
         f.starts_with("std::__apply_impl") || f.starts_with("std::apply");
}

}  // namespace

std::vector<stack_frame> symbolize_frames(const std::vector<std::uintptr_t>& pcs,
                                          stack_unwinder& unwinder, bool interrupted) {
  std::vector<stack_frame> frames;
  frames.reserve(pcs.size());
  // A switched-out context resumes after its call into the switch: then
  // every pc, the innermost too, is a return address.
  for (std::size_t i = 0; i < pcs.size(); ++i) {
    for (stack_frame& frame : unwinder.describe(pcs[i], i > 0 || !interrupted)) {
      frames.push_back(std::move(frame));
    }
  }
  // From the outermost of the library's frames above the caller's first
  // (weft::mutex::lock, not the helper it waits in).
  auto first = std::find_if_not(frames.begin(), frames.end(), runtime_frame);
  const auto users = std::find_if_not(first, frames.end(), [](const stack_frame& frame) {
    return frame.function.starts_with("weft::");
  });
  if (users != first && users != frames.end()) first = std::prev(users);
  const auto last = std::find_if_not(frames.rbegin(), frames.rend(), entry_frame).base();
  if (first >= last) return frames;  // nothing but the runtime: show it all
  // In between too (a child run inline by its joiner's join() has the task
  // wrapper and the join machinery between its frames and the joiner's).
  std::vector<stack_frame> shown;
  for (auto it = first; it != last; ++it) {
    if (it == first || !entry_frame(*it)) shown.push_back(std::move(*it));
  }
  return shown;
}

namespace {

std::vector<fiber_info> inspect(const runtime_core& core, fiber_detail detail) {
  if (detail == fiber_detail::summary) return core.registry.snapshot();
  return list_fibers(core, true);
}

}  // namespace

const char* wait_kind_name(wait_kind kind) noexcept {
  switch (kind) {
    case wait_kind::none:
      return "nothing";
    case wait_kind::join:
      return "join";
    case wait_kind::sleep:
      return "sleep";
    case wait_kind::mutex:
      return "mutex";
    case wait_kind::shared_mutex:
      return "shared_mutex";
    case wait_kind::condition_variable:
      return "condition_variable";
    case wait_kind::semaphore:
      return "semaphore";
    case wait_kind::latch:
      return "latch";
    case wait_kind::barrier:
      return "barrier";
    case wait_kind::wait_group:
      return "wait_group";
    case wait_kind::channel_send:
      return "channel send";
    case wait_kind::channel_recv:
      return "channel receive";
    case wait_kind::select:
      return "select";
    case wait_kind::future:
      return "future";
    case wait_kind::blocking:
      return "blocking call";
    case wait_kind::task_group:
      return "task_group";
    case wait_kind::io:
      return "socket";
    case wait_kind::other:
      return "other";
  }
  return "other";
}

namespace {

void write_fiber(std::ostream& out, const fiber_info& f,
                 std::chrono::steady_clock::time_point now) {
  out << "fiber " << f.id.value();
  if (!f.name.empty()) out << " \"" << f.name << '"';
  switch (f.state) {
    case fiber_state::running:
      out << ": running on worker " << f.worker << " (its stack is not read while it runs)";
      break;
    case fiber_state::ready:
      out << ": ready, last on worker " << f.worker;
      break;
    case fiber_state::parked: {
      const std::chrono::duration<double> waited = now - f.waiting_since;
      out << ": parked on " << wait_kind_name(f.waiting_on);
      if (f.blocked_by) out << ", blocked by fiber " << f.blocked_by.value();
      out << ", for " << std::fixed << std::setprecision(3) << std::max(0.0, waited.count())
          << std::defaultfloat << " s, last on worker " << f.worker;
      break;
    }
  }
  out << '\n';
  for (std::size_t i = 0; i < f.stack.size(); ++i) write_frame(out, i, f.stack[i]);
}

void dump_runtime(const runtime_core& core, std::ostream& out) {
  const std::vector<fiber_info> fibers = inspect(core, fiber_detail::stacks);
  const auto now = std::chrono::steady_clock::now();
  out << "weft runtime \"" << core.opts.name << "\": " << core.worker_count() << " workers, "
      << fibers.size() << (fibers.size() == 1 ? " fiber\n" : " fibers\n");
  for (const fiber_info& f : fibers) write_fiber(out, f, now);
  out.flush();
}

}  // namespace

void write_frame(std::ostream& out, std::size_t number, const stack_frame& frame) {
  out << "    #" << number << ' ' << (frame.function.empty() ? "??" : frame.function);
  if (!frame.file.empty()) out << " at " << frame.file << ':' << frame.line;
  out << " [0x" << std::hex << frame.address << std::dec << "]\n";
}

void write_deadlock(std::ostream& out, const runtime_core& core, const deadlock& d) {
  const auto now = std::chrono::steady_clock::now();
  out << "weft: deadlock in runtime \"" << core.opts.name << "\": " << d.cycle.size()
      << " fibers wait for each other, each for the next and the last for the first\n";
  for (const fiber_info& f : d.cycle) write_fiber(out, f, now);
}

namespace {

// The dump signal: the handler only writes a byte to a pipe (write(2) is
// async-signal-safe; a dump allocates, locks and reads files); a thread of
// our own reads it and dumps.
int dump_pipe_write_end = -1;

void on_dump_signal(int /*signo*/) {
  const int saved_errno = errno;
  const char byte = 1;
  (void)!write(dump_pipe_write_end, &byte, 1);  // pipe full: a dump is due anyway
  errno = saved_errno;
}

void start_dump_thread() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "weft::install_dump_signal: pipe2");
  const int flags = fcntl(fds[1], F_GETFL);
  (void)fcntl(fds[1], F_SETFL, flags | O_NONBLOCK);
  dump_pipe_write_end = fds[1];
  std::thread([read_end = fds[0]] {
    char bytes[64];
    for (;;) {
      const ssize_t n = read(read_end, bytes, sizeof bytes);
      if (n > 0) {
        dump_all(std::cerr);
      } else if (n == 0 || errno != EINTR) {
        return;
      }
    }
  }).detach();
}

int signal_from_name(std::string_view name) {
  if (name.starts_with("SIG")) name.remove_prefix(3);
  if (name == "QUIT") return SIGQUIT;
  if (name == "USR1") return SIGUSR1;
  if (name == "USR2") return SIGUSR2;
  return 0;
}

}  // namespace

void list_runtime(runtime_core& core) {
  runtime_list& list = runtimes();
  const std::lock_guard guard(list.lock);
  list.cores.push_back(&core);
}

void unlist_runtime(runtime_core& core) noexcept {
  runtime_list& list = runtimes();
  const std::lock_guard guard(list.lock);
  std::erase(list.cores, &core);
}

std::chrono::milliseconds milliseconds_from_environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::chrono::milliseconds(0);
  char* end = nullptr;
  errno = 0;
  const long long ms = std::strtoll(value, &end, 10);
  if (errno != 0 || *end != '\0' || ms < 0) {
    throw std::invalid_argument(std::string(name) + ": \"" + value +
                                "\" is not a whole number of milliseconds >= 0");
  }
  return std::chrono::milliseconds(ms);
}

void apply_diagnostics_environment() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* value = std::getenv("WEFT_DUMP_SIGNAL");
    if (value == nullptr || *value == '\0') return;
    const int signo = signal_from_name(value);
    if (signo == 0) {
      throw std::invalid_argument(std::string("WEFT_DUMP_SIGNAL: \"") + value +
                                  "\" is not one of QUIT, USR1, USR2");
    }
    install_dump_signal(signo);
  });
  static std::once_flag trace_once;
  std::call_once(trace_once, [] {
    const char* path = std::getenv("WEFT_TRACE");
    if (path == nullptr || *path == '\0') return;
    trace::start(path);  // throws std::runtime_error naming an unwritable path
    std::atexit([] {
      try {
        trace::stop();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "weft: WEFT_TRACE: %s\n", e.what());
      }
    });
  });
}

}  // namespace detail

std::vector<fiber_info> runtime::fibers(fiber_detail detail) const {
  return detail::inspect(*core_, detail);
}

void runtime::dump(std::ostream& out) const { detail::dump_runtime(*core_, out); }

std::vector<deadlock> runtime::find_deadlocks() const { return detail::find_deadlocks(*core_); }

void dump_all(std::ostream& out) {
  detail::runtime_list& list = detail::runtimes();
  const std::lock_guard guard(list.lock);
  for (const detail::runtime_core* core : list.cores) detail::dump_runtime(*core, out);
}

void install_dump_signal(int signo) {
  if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP) {
    throw std::invalid_argument("weft::install_dump_signal: signal " + std::to_string(signo) +
                                " cannot be caught");
  }
  static std::once_flag thread_started;
  std::call_once(thread_started, detail::start_dump_thread);
  struct sigaction action {};
  action.sa_handler = &detail::on_dump_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (sigaction(signo, &action, nullptr) != 0) {
    detail::throw_errno(errno, "weft::install_dump_signal: sigaction");
  }
}

}  // namespace weft
