// Stackful generators: a body on a stack of its own, resumed by its
// consumer and suspending back. The public side is include/weft/generator.hpp.
//
// Switching. resume() switches from the consumer to the body's context
// (started on first use), suspend() back; each side keeps the other's
// context handle, renewed at every switch (both live in generator_core).
// The common case, a plain thread consuming with no exception state on
// either side, is inline in generator_core.hpp: one call of the context
// switch from each side, no frame of ours around it. Everything else comes
// here: the start, a fiber as consumer, the end, destruction, and builds
// whose sanitizers are told of every switch as for fibers (context.hpp).
//
// Exception state. The C++ runtime's caught exceptions and uncaught count
// (exception_state.hpp) are kept per side, so a body that yields inside a
// catch block and a consumer that resumes it inside another one both keep
// theirs. The invariant: the body runs with the thread's state holding its
// own and nothing else; the consumer's is set aside while the body runs
// (run_body(), or the fast path, which requires it to be empty). The body
// suspends without looking at its state (a call per yield saved); the
// consumer's side, back on the thread, sets aside whatever the body left
// (keep_body_exceptions()) and turns the fast path off, and the body takes
// it back in resumed_slow() the next time it runs.
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

// A plain thread's own stack, looked up once per thread (its exception
// state is kept in plain_thread_exceptions, generator_core.hpp).
// Constant-initialized, so reading it is a plain thread-local load, with no
// initialization check behind a call.
struct plain_thread {
  execution_stack stack;
  bool known = false;
};
thread_local plain_thread this_thread;

const plain_thread& this_plain_thread() {
  if (!this_thread.known) [[unlikely]] {
    this_thread.stack = thread_stack();
    this_thread.known = true;
  }
  return this_thread;
}

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
  execution_stack consumer;           ///< the consumer's stack, for the switch back
  exception_state body_exceptions{};  ///< the body's, set aside while it is suspended
  cancel_frame body_cancel{};         ///< the body's timeout scopes and shields, while suspended
  std::exception_ptr error;           ///< what the body threw, for resume() to rethrow
  bool started = false;
  bool finished = false;
  bool unwinding = false;
};

// generator_entry() and the file's helpers reach the core's private part.
struct generator_core_access {
  static void*& body_context(generator_core& core) noexcept { return core.body_context_; }
  static void*& consumer_context(generator_core& core) noexcept { return core.consumer_context_; }
  static void set_fast(generator_core& core, bool fast) noexcept {
    core.fast_ = !switches_annotated && fast;
  }
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
    fast_ = false;
    try {
      (void)resume_slow();
    } catch (...) {
      // A destructor that threw while the body unwound: nobody to give it to.
    }
  }
  sanitizer_fiber_destroy(s.tsan_fiber);
  stack_pool::unmap_single(s.stack);
  delete state_;
}

namespace {

// Sets aside what exception state the body left on the thread it
// suspended on (the fast path lets it leave some) until it next runs
// (generator_core::resumed_slow()); the consumer gets the thread back empty.
void keep_body_exceptions(generator_core& core, generator_core::state& s, exception_state& thread) {
  if (thread.empty()) [[likely]]
    return;
  s.body_exceptions = std::exchange(thread, exception_state{});
  generator_core_access::set_fast(core, false);
}

// The consumer's side of a slow switch to the body, until it suspends or
// returns. The body runs with the thread's exception state empty but for
// its own; the consumer's is set aside and put back afterwards, on the
// thread the consumer is then on.
void run_body(generator_core& core, generator_core::state& s) {
  exception_state* exceptions = thread_exception_state();
  const exception_state consumers = std::exchange(*exceptions, exception_state{});
  void*& body_context = generator_core_access::body_context(core);
  if (!s.started) [[unlikely]] {
    s.started = true;
    body_context = make_generator_context(s.stack.top(), s.stack.size);
  }
  const transfer t =
      switch_context(body_context, execution_stack{s.stack.bottom, s.stack.size, s.tsan_fiber}, &s);
  // Back, perhaps on another thread (a fiber whose body parked).
  body_context = t.from;
  exceptions = thread_exception_state();
  keep_body_exceptions(core, s, *exceptions);
  *exceptions = consumers;
}

// resume() for a fiber: it runs the body as itself (see the top of this file).
void run_body_in_fiber(generator_core& core, generator_core::state& s, fiber& consumer) {
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
  run_body(core, s);
  s.body_cancel = consumer.cancel;
  consumer.cancel = consumer_cancel;
  consumer.stack = consumer_stack;
  consumer.tsan_fiber = consumer_tsan;
}

}  // namespace

namespace {

// The consumer's side after the body suspended or returned, its exception
// state settled: rethrows what the body threw; false once it has ended.
bool body_outcome(generator_core::state& s) {
  if (s.error) [[unlikely]]
    std::rethrow_exception(std::exchange(s.error, nullptr));
  return !s.finished;
}

}  // namespace

bool generator_core::resume_slow() {
  state& s = *state_;
  if (s.finished) return false;
  const plain_thread& thread = this_plain_thread();
  if (fiber* const consumer = calling_fiber(thread)) {
    run_body_in_fiber(*this, s, *consumer);
  } else {
    // Not on a worker's own stack either (its scheduler code), or its
    // fibers would take the fast path.
    if (worker::current() == nullptr) plain_thread_exceptions = thread_exception_state();
    s.consumer = thread.stack;
    run_body(*this, s);
  }
  return body_outcome(s);
}

// The fast path's consumer side (a plain thread with an empty exception
// state) when the body did not simply yield: it left exception state behind
// or it ended.
bool generator_core::finish_resume() {
  state& s = *state_;
  keep_body_exceptions(*this, s, *thread_exception_state());
  return body_outcome(s);
}

// The body's side of a switch under a sanitizer (no fast path): as
// run_body() for the consumer, the body's exception state is set aside
// while it is suspended.
void generator_core::suspend_slow() {
  state& s = *state_;
  exception_state* exceptions = thread_exception_state();
  const exception_state bodys = std::exchange(*exceptions, exception_state{});
  const transfer t = switch_context(consumer_context_, s.consumer, &s);
  consumer_context_ = t.from;
  // Resumed, perhaps on another thread (the consumer may have moved),
  // whose exception state the consumer's side left empty.
  *thread_exception_state() = bodys;
  if (s.unwinding) throw forced_unwind{};
}

// The body's side after a fast suspend, resumed with the fast path off:
// its exception state was set aside (keep_body_exceptions()), or the
// generator is being destroyed.
void generator_core::resumed_slow() {
  state& s = *state_;
  *thread_exception_state() = std::exchange(s.body_exceptions, exception_state{});
  if (s.unwinding) throw forced_unwind{};
  fast_ = !switches_annotated;
}

[[noreturn]] void generator_entry(transfer t) noexcept {
  auto& s = *static_cast<generator_core::state*>(t.data);
  generator_core& core = *s.core;
  generator_core_access::consumer_context(core) = t.from;
  if (!s.unwinding) {
    generator_core_access::set_fast(core, true);
    try {
      s.body(s.arg, core);
    } catch (const forced_unwind&) {
      // Destroyed while suspended: the stack is unwound, nothing to report.
    } catch (...) {
      s.error = std::current_exception();
    }
  }
  s.finished = true;
  generator_core_access::set_fast(core, false);
  (void)switch_context(generator_core_access::consumer_context(core), s.consumer, &s, true);
  __builtin_unreachable();
}

}  // namespace weft::detail
