// weft-load: Ctrl-C during a run. An interrupt_watch blocks SIGINT in the
// thread that creates it, before the runtime's workers start (they inherit
// the mask, so the signal reaches no thread of the process as a handler
// would), and takes it with sigwaitinfo() on a helper thread: the first
// SIGINT requests a stop (the run cancels its users and reports what ran),
// the second exits at once with status 130. No signal handler is installed,
// so nothing runs in signal context.
//
//   interrupt_watch watch;                 // before weft::runtime
//   options.stop = watch.token();
//   ... run ...
//   if (watch.interrupted()) return 130;
#pragma once

#include <signal.h>

#include <stop_token>
#include <thread>

namespace weft::load {

/// Watches for SIGINT while it lives (see above). One at a time per
/// process; create it on the thread that will create the runtime.
class interrupt_watch {
 public:
  /// The exit status of a run stopped by Ctrl-C (128 + SIGINT).
  static constexpr int exit_status = 130;

  /// Blocks SIGINT in the calling thread and starts the helper thread;
  /// does nothing if SIGINT is ignored (SIG_IGN), which it then stays.
  interrupt_watch();
  /// Stops the helper thread and restores the calling thread's signal mask
  /// (a SIGINT that arrived after the helper stopped is then delivered
  /// with its usual effect). On the thread that created it.
  ~interrupt_watch();
  interrupt_watch(const interrupt_watch&) = delete;
  interrupt_watch& operator=(const interrupt_watch&) = delete;

  /// Stopped by the first SIGINT.
  [[nodiscard]] std::stop_token token() const noexcept { return stop_.get_token(); }
  /// Whether a SIGINT came.
  [[nodiscard]] bool interrupted() const noexcept { return stop_.stop_requested(); }

 private:
  void watch();

  std::stop_source stop_;
  sigset_t old_mask_{};
  std::thread thread_;
};

}  // namespace weft::load
