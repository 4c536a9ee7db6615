// weft::fiber_info: what runtime::fibers() and the dumps report about one
// fiber (its state, why and for whom it waits, where its stack is).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "weft/fiber_id.hpp"

namespace weft {

/// What a fiber is doing, as seen by runtime::fibers().
enum class fiber_state {
  ready,    ///< queued to run (new, woken or yielded)
  running,  ///< on a worker now
  parked,   ///< waiting; see fiber_info::waiting_on
};

/// Why a parked fiber waits. Later releases may add kinds; treat unknown ones as "other".
enum class wait_kind {
  none,                ///< not waiting
  join,                ///< join_handle::join / runtime::block_on on another fiber
  sleep,               ///< this_fiber::sleep_for / sleep_until
  mutex,               ///< weft::mutex::lock
  shared_mutex,        ///< weft::shared_mutex, shared or exclusive
  condition_variable,  ///< weft::condition_variable::wait
  semaphore,           ///< weft::semaphore::acquire
  latch,               ///< weft::latch::wait
  barrier,             ///< weft::barrier::arrive_and_wait
  wait_group,          ///< weft::wait_group::wait
  channel_send,        ///< weft::channel::send
  channel_recv,        ///< weft::channel::recv
  select,              ///< weft::select
  future,              ///< weft::future::get / wait
  blocking,            ///< weft::blocking: the call runs on a blocking-pool thread
  task_group,          ///< weft::task_group::wait, parallel algorithms
  io,                  ///< weft::net: waiting for a socket to become ready
  other,               ///< any other parking wait
};

/// One frame of a fiber's stack, innermost first in fiber_info::stack.
struct stack_frame {
  /// The program counter: where the frame resumes (a return address, but in
  /// the innermost frame of an interrupted thread).
  std::uintptr_t address = 0;
  std::string function;  ///< demangled; empty when unknown
  std::string file;      ///< empty without debug info
  unsigned line = 0;     ///< 0 when unknown
};

/// How much runtime::fibers() collects.
enum class fiber_detail {
  summary,  ///< state and wait reason (cheap)
  stacks,   ///< and the stack of every fiber that is not running, symbolized
};

/// One live fiber, as enumerated by runtime::fibers().
struct fiber_info {
  fiber_id id;                             ///< never reused
  std::string name;                        ///< spawn_options::name; empty if none
  fiber_state state = fiber_state::ready;  ///< at the moment it was read
  wait_kind waiting_on = wait_kind::none;  ///< why it waits; none unless parked
  /// The object waited on (the joined fiber's record, ...); nullptr if none.
  const void* wait_object = nullptr;
  /// When the current wait began; meaningful while state == parked.
  std::chrono::steady_clock::time_point waiting_since{};
  /// The worker running it, or the last one that did; for a fiber that has
  /// not run yet, the worker that took it (or 0 while still queued).
  unsigned worker = 0;
  /// Whom it waits for: the joined fiber, or (with fiber_detail::stacks) the
  /// holder of the mutex or exclusively held shared_mutex it waits for, if
  /// that holder is parked or ready; fiber_id{} if none or unknown.
  fiber_id blocked_by{};
  /// Innermost frame first; empty unless asked for with fiber_detail::stacks,
  /// and for a fiber that runs now or has not started.
  std::vector<stack_frame> stack;
};

/// A set of fibers that wait for each other: cycle[i] waits for cycle[i + 1]
/// (joins it, or a mutex it holds), and the last waits for the first.
/// Found by runtime::find_deadlocks() and options::deadlock_check.
struct deadlock {
  std::vector<fiber_info> cycle;
};

}  // namespace weft
