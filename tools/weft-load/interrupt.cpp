// weft-load: interrupt_watch (interrupt.hpp). The helper thread is ended by
// a SIGINT queued to it alone (pthread_sigqueue) that carries a value of
// our own from our own process: it tells that one from a user's Ctrl-C.
#include "interrupt.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>

namespace weft::load {

namespace {

// The value the destructor's SIGINT carries.
constexpr int quit_value = 0x77656674;  // "weft"

sigset_t sigint_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

interrupt_watch::interrupt_watch() {
  // A SIGINT the process was told to ignore (a job started with `&` by a
  // shell without job control, say) stays ignored: blocked, it would be
  // queued for sigwaitinfo() instead of discarded.
  struct sigaction current {};
  if (sigaction(SIGINT, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) return;
  const sigset_t set = sigint_set();
  if (const int rc = pthread_sigmask(SIG_BLOCK, &set, &old_mask_); rc != 0) {
    throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
  }
  try {
    thread_ = std::thread([this] { watch(); });
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    throw;
  }
}

interrupt_watch::~interrupt_watch() {
  if (!thread_.joinable()) return;  // SIGINT ignored: nothing watched
  sigval value{};
  value.sival_int = quit_value;
  // Fails only if the thread is gone, which it is not before the join.
  pthread_sigqueue(thread_.native_handle(), SIGINT, value);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void interrupt_watch::watch() {
  const sigset_t set = sigint_set();
  for (;;) {
    siginfo_t info{};
    if (sigwaitinfo(&set, &info) < 0) continue;  // EINTR
    if (info.si_code == SI_QUEUE && info.si_pid == ::getpid() &&
        info.si_value.sival_int == quit_value) {
      return;
    }
    if (stop_.stop_requested()) std::_Exit(exit_status);  // the second Ctrl-C
    // Runs the run's stop callback here, on this thread (scenario.hpp).
    stop_.request_stop();
  }
}

}  // namespace weft::load
