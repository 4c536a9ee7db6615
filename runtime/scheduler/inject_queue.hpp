// inject_queue: fibers made runnable from outside the runtime's workers
// (spawns and wake-ups from plain threads or other runtimes). The only file
// that includes moodycamel's ConcurrentQueue.
//
// Lock-free multi-producer multi-consumer; producers on different threads
// never contend on a lock (each gets its own sub-queue), which is what lets
// many outside threads submit at once. Order: FIFO per producer, no global
// order, which is all the scheduler needs. Workers poll it when their own
// queue is empty and every 61 scheduling ticks regardless, so outside work
// never starves behind a busy local queue.
#pragma once

#include <concurrentqueue/concurrentqueue.h>

#include <cstddef>

namespace weft::detail {

struct fiber;

class inject_queue {
 public:
  /// Any thread. Publishes `f` with release semantics (moodycamel's
  /// enqueue/dequeue pair synchronizes), so a worker that dequeues it sees
  /// everything written to the fiber before.
  void push(fiber* f) { queue_.enqueue(f); }
  /// Any thread; nullptr when empty.
  fiber* pop() noexcept {
    fiber* f = nullptr;
    return queue_.try_dequeue(f) ? f : nullptr;
  }
  /// Cheap emptiness hint (may be stale either way). Any thread.
  [[nodiscard]] bool probably_empty() const noexcept { return queue_.size_approx() == 0; }

 private:
  moodycamel::ConcurrentQueue<fiber*> queue_;
};

}  // namespace weft::detail
