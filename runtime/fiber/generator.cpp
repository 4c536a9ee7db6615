// Stackful generators: a body on a stack of its own, resumed by its
// consumer and suspending back. The public side is include/weft/generator.hpp.
//
// Switching. resume() switches from the consumer to the body's context
// (started on first use), suspend() back; each side keeps the other's
// context handle, renewed at every switch. The sanitizers are told of every
// switch as for fibers (context.hpp), and the C++ exception state (the
// caught exceptions) is kept per side, so a body that yields inside a catch
// block and a consumer that resumes it inside another one both keep theirs.
//
// A fiber as the consumer. While the body runs, the consuming fiber *is*
// the body as far as the scheduler can tell: if the body waits (a channel,
// a mutex, a sleep), the fiber parks, and what is saved and later resumed
// is the body's context on the generator's stack. So for that time the
// fiber's record names the generator's stack and ThreadSanitizer fiber
// (the scheduler annotates its switches with them, the overflow report and
// stack dumps read them) and gets its own back when the body suspends.
// The fiber may have moved to another worker meanwhile: nothing here keeps
// a thread-specific pointer across the switch.
//
// Ending. The body's return (or exception, handed to the consumer) ends it:
// generator_entry switches back for good. A generator destroyed with its
// body suspended resumes it once with `unwinding` set: suspend() then
// throws forced_unwind, which unwinds the body's stack (its destructors
// run) and is caught in generator_entry.
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include "fiber/context.hpp"
#include "fiber/fiber.hpp"
#include "fiber/stack_pool.hpp"
#include "scheduler/worker.hpp"
#include "weft/detail/generator_core.hpp"
#include "weft/options.hpp"

namespace weft::detail {

namespace {

// Thrown into a suspended body by the generator's destructor.
struct forced_unwind {};

// Generator stacks: mapped one by one with a guard below, as fibers' stacks
// of a non-default size. Never destroyed (generators may outlive statics).
stack_pool& generator_stacks() {
  static auto* pool = new stack_pool(round_stack_size(options{}.stack_size));
  return *pool;
}

// A plain thread's own stack and exception state, looked up once per thread
// (a fiber consumer's are looked up at each resume: it may migrate).
// Constant-initialized, so reading it is a plain thread-local load, with no
// initialization check behind a call.
struct plain_thread {
  execution_stack stack;
  exception_state* exceptions = nullptr;
  bool known = false;
};
thread_local plain_thread this_thread;

const plain_thread& this_plain_thread() {
  if (!this_thread.known) [[unlikely]] {
    this_thread.stack = thread_stack();
    this_thread.exceptions = thread_exception_state();
    this_thread.known = true;
  }
  return this_thread;
}

bool any(const exception_state& e) noexcept { return e.caught != nullptr || e.uncaught != 0; }

// The fiber that calls, if any: a frame on the calling thread's own stack
// is not a fiber's (fibers run on stacks of their own), which spares the
// look-up of the worker on a plain thread.
fiber* calling_fiber(const plain_thread& thread) {
  // A local's address (not __builtin_frame_address, which costs the caller
  // a frame pointer) tells which stack this runs on.
  const std::byte local{};
  const std::byte* here = &local;
  const auto* bottom = static_cast<const std::byte*>(thread.stack.bottom);
  if (here >= bottom && here < bottom + thread.stack.size) return nullptr;
  worker* const w = worker::current();
  return w ? w->running() : nullptr;
}

}  // namespace

struct generator_core::state {
  state(generator_core::body_fn body_fn, void* body_arg, generator_core* owner,
        fiber_stack body_stack) noexcept
      : body(body_fn), arg(body_arg), core(owner), stack(body_stack) {}
  generator_core::body_fn body;
  void* arg;
  generator_core* core;
  fiber_stack stack;
  void* tsan_fiber = nullptr;
  context_handle body_context = nullptr;      ///< the suspended body; null before its start
  context_handle consumer_context = nullptr;  ///< the consumer, while the body runs
  execution_stack consumer;                   ///< the consumer's stack, for the switch back
  exception_state body_exceptions{};          ///< the body's, while the consumer runs
  cancel_frame body_cancel{};  ///< the body's timeout scopes and shields, while suspended
  std::exception_ptr error;    ///< what the body threw, for resume() to rethrow
  bool started = false;
  bool finished = false;
  bool unwinding = false;
};

generator_core::generator_core(body_fn body, void* state_arg, std::size_t stack_size) {
  if (stack_size != 0 && (stack_size < min_stack_size || stack_size > max_stack_size)) {
    throw std::invalid_argument("weft::generator: stack_size " + std::to_string(stack_size) +
                                " is outside [" + std::to_string(min_stack_size) + ", " +
                                std::to_string(max_stack_size) + "]");
  }
  stack_pool& pool = generator_stacks();
  const fiber_stack stack =
      pool.map_single(stack_size != 0 ? round_stack_size(stack_size) : pool.default_size());
  try {
    state_ = new state(body, state_arg, this, stack);
  } catch (...) {
    stack_pool::unmap_single(stack);
    throw;
  }
  forget_stack_frames(stack.bottom, stack.size);
  state_->tsan_fiber = sanitizer_fiber_create();
}

generator_core::~generator_core() {
  state& s = *state_;
  if (s.started && !s.finished) {
    s.unwinding = true;
    try {
      (void)resume();
    } catch (...) {
      // A destructor that threw while the body unwound: nobody to give it to.
    }
  }
  sanitizer_fiber_destroy(s.tsan_fiber);
  stack_pool::unmap_single(s.stack);
  delete state_;
}

namespace {

// Switches to the body until it suspends or returns; the consumer's side
// of resume(), with `exceptions` the calling thread's exception state.
// Mostly neither side has a caught exception: then nothing is swapped.
void run_body(generator_core::state& s, exception_state*& exceptions, bool fiber_consumer) {
  const exception_state consumer_exceptions = *exceptions;
  const bool swapped = any(consumer_exceptions) || any(s.body_exceptions);
  if (swapped) *exceptions = s.body_exceptions;
  if (!s.started) [[unlikely]] {
    s.started = true;
    s.body_context = make_generator_context(s.stack.top(), s.stack.size);
  }
  const transfer t = switch_context(
      s.body_context, execution_stack{s.stack.bottom, s.stack.size, s.tsan_fiber}, &s);
  // Back, perhaps on another thread (a fiber whose body parked).
  s.body_context = t.from;
  if (fiber_consumer) exceptions = thread_exception_state();
  if (swapped || any(*exceptions)) {
    s.body_exceptions = *exceptions;
    *exceptions = consumer_exceptions;
  }
}

// resume() for a fiber: it runs the body as itself (see the top of this file).
[[gnu::noinline]] void run_body_in_fiber(generator_core::state& s, fiber& consumer) {
  const fiber_stack consumer_stack = consumer.stack;
  void* const consumer_tsan = consumer.tsan_fiber;
  s.consumer = execution_stack{consumer_stack.bottom, consumer_stack.size, consumer_tsan};
  consumer.stack = s.stack;
  consumer.tsan_fiber = s.tsan_fiber;
  // The body's shields and timeouts are its own (cancellation.hpp): they
  // stay with it while it is suspended; while it runs, the consumer's
  // enclose them.
  const cancel_frame consumer_cancel = consumer.cancel;
  consumer.cancel = s.body_cancel;
  consumer.cancel.enclosing = &consumer_cancel;
  exception_state* exceptions = thread_exception_state();
  run_body(s, exceptions, true);
  s.body_cancel = consumer.cancel;
  consumer.cancel = consumer_cancel;
  consumer.stack = consumer_stack;
  consumer.tsan_fiber = consumer_tsan;
}

}  // namespace

bool generator_core::resume() {
  state& s = *state_;
  if (s.finished) return false;
  const plain_thread& thread = this_plain_thread();
  if (fiber* const consumer = calling_fiber(thread)) {
    run_body_in_fiber(s, *consumer);
  } else {
    s.consumer = thread.stack;
    exception_state* exceptions = thread.exceptions;
    run_body(s, exceptions, false);
  }
  if (s.error) [[unlikely]]
    std::rethrow_exception(std::exchange(s.error, nullptr));
  return !s.finished;
}

void generator_core::suspend() {
  state& s = *state_;
  const transfer t = switch_context(s.consumer_context, s.consumer, &s);
  s.consumer_context = t.from;
  if (s.unwinding) throw forced_unwind{};
}

[[noreturn]] void generator_entry(transfer t) noexcept {
  auto& s = *static_cast<generator_core::state*>(t.data);
  s.consumer_context = t.from;
  if (!s.unwinding) {
    try {
      s.body(s.arg, *s.core);
    } catch (const forced_unwind&) {
      // Destroyed while suspended: the stack is unwound, nothing to report.
    } catch (...) {
      s.error = std::current_exception();
    }
  }
  s.finished = true;
  (void)switch_context(s.consumer_context, s.consumer, &s, true);
  __builtin_unreachable();
}

}  // namespace weft::detail
