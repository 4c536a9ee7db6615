// periodic_thread: a thread that calls a function at a fixed period until
// it is destroyed: the body of the diagnostics watches (deadlock checks,
// stall warnings).
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace weft::detail {

class periodic_thread {
 public:
  /// Calls `tick` every `period` (after each period, not before the first).
  periodic_thread(std::chrono::milliseconds period, std::function<void()> tick)
      : period_(period), tick_(std::move(tick)), thread_([this] { run(); }) {}
  /// Stops the thread (a tick in progress completes first) and joins it.
  ~periodic_thread() {
    {
      const std::lock_guard guard(lock_);
      stop_ = true;
    }
    stop_requested_.notify_one();
    thread_.join();
  }
  periodic_thread(const periodic_thread&) = delete;
  periodic_thread& operator=(const periodic_thread&) = delete;

 private:
  void run() {
    std::unique_lock guard(lock_);
    while (!stop_requested_.wait_for(guard, period_, [this] { return stop_; })) {
      guard.unlock();
      try {
        tick_();
      } catch (const std::exception&) {
        // Out of memory while building a report: a diagnostic gives up this
        // round rather than terminate the program it watches.
      }
      guard.lock();
    }
  }

  const std::chrono::milliseconds period_;
  const std::function<void()> tick_;
  std::mutex lock_;
  std::condition_variable stop_requested_;
  bool stop_ = false;   // guarded by lock_
  std::thread thread_;  // last: started once the rest is ready
};

}  // namespace weft::detail
