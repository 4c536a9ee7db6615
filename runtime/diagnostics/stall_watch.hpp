// stall_watch: options::stall_warning. A worker that runs one fiber longer
// than the threshold without a switch (a blocking system call, a
// std::mutex, a long loop: all hold the worker, and every fiber queued
// behind it) gets one warning on stderr, naming the fiber, with the stack
// it is stuck in.
//
// Noticing. A thread of the runtime looks at every worker a few times per
// threshold: a worker that is awake (not asleep on its futex word or in
// epoll) and whose scheduling tick (worker::tick_, bumped at every
// scheduling decision) has not moved for the threshold is running one fiber
// all along. One warning per stall: the tick it stalled at is remembered.
// The workers pay nothing for it: the tick and the sleep word exist for the
// scheduler already.
//
// Capturing. A running stack moves under any other thread's reader, so the
// watch has the worker capture it: it signals the worker's thread (SIGURG,
// which Go's scheduler uses for the same reason: nothing else uses it, and
// its default action is to do nothing). The handler, on the worker's
// alternate signal stack, stores the interrupted registers and the running
// fiber in the worker's stall_capture slot, then waits there until the
// watch has unwound and named the frozen stack (stall_capture.hpp gives the
// handshake; the handler only loads, stores, CASes and sched_yield()s, all
// async-signal-safe). A SIGURG that is not ours goes on to the handler that
// was installed before. Under ThreadSanitizer, which delivers signals only
// at its own safe points, a fiber spinning without calls may not take the
// signal in time: the warning then says the stack could not be read.
//
// A blocking system call interrupted by the signal restarts (SA_RESTART),
// except those Linux never restarts (poll, epoll_wait, select, nanosleep's
// relatives return EINTR): code that blocks a worker there sees EINTR once,
// when the warning is written.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "diagnostics/periodic_thread.hpp"

namespace weft::detail {

class runtime_core;

class stall_watch {
 public:
  stall_watch(runtime_core& core, std::chrono::milliseconds threshold);

 private:
  struct look {
    std::uint32_t tick = 0;
    std::int64_t since_ns = 0;  ///< when this tick was first seen (awake)
    bool warned = false;        ///< warned about this tick already
  };
  void check_all();
  void check(unsigned index, look& last, std::int64_t now_ns);
  void warn(unsigned index, std::int64_t stalled_ns);

  runtime_core& core_;
  const std::chrono::milliseconds threshold_;
  std::vector<look> looks_;  // one per worker, the watch thread's own
  periodic_thread thread_;   // last: stopped first
};

}  // namespace weft::detail
