// Stack switching on Boost.Context's fcontext, with sanitizer hooks.
// The only file of weft that includes Boost.Context.
#include "context.hpp"

#include <cxxabi.h>
#include <pthread.h>

#include <boost/context/detail/fcontext.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif

#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace weft::detail {

namespace fctx = boost::context::detail;

namespace {
// fcontext's entry signature uses Boost's transfer_t; convert once here.
void entry_trampoline(fctx::transfer_t t) {
  // Complete the switch for ASan before anything else: the compiler inserts
  // __asan_handle_no_return before the [[noreturn]] call below, which must
  // already see this stack as the current one.
#ifdef WEFT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  fiber_entry(transfer{t.fctx, t.data});
}
}  // namespace

void forget_stack_frames(void* bottom, std::size_t size) noexcept {
#ifdef WEFT_ASAN
  ASAN_UNPOISON_MEMORY_REGION(bottom, size);
#else
  (void)bottom;
  (void)size;
#endif
}

context_handle make_context(void* top, std::size_t size) noexcept {
  return fctx::make_fcontext(top, size, &entry_trampoline);
}

transfer switch_context(context_handle to, const execution_stack& target, void* data,
                        bool leaving_forever) noexcept {
#ifdef WEFT_ASAN
  void* fake_stack = nullptr;
  // A context that never comes back passes nullptr so ASan frees its fake stack.
  __sanitizer_start_switch_fiber(leaving_forever ? nullptr : &fake_stack, target.bottom,
                                 target.size);
#else
  (void)leaving_forever;
#endif
#ifdef WEFT_TSAN
  // flags 0: the switch synchronizes, so the target fiber sees everything this
  // context did before it (the scheduler hands data from one to the other).
  __tsan_switch_to_fiber(target.tsan_fiber, 0);
#else
  (void)target;
#endif
  const fctx::transfer_t t = fctx::jump_fcontext(to, data);
#ifdef WEFT_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  return transfer{t.fctx, t.data};
}

// exception_state mirrors the first two members of the Itanium ABI's
// __cxa_eh_globals (all it has on x86-64 and AArch64 Linux).
exception_state* thread_exception_state() noexcept {
  return reinterpret_cast<exception_state*>(abi::__cxa_get_globals());
}

execution_stack thread_stack() noexcept {
  execution_stack s;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &s.bottom, &s.size);
    pthread_attr_destroy(&attr);
  }
#ifdef WEFT_TSAN
  s.tsan_fiber = __tsan_get_current_fiber();
#endif
  return s;
}

void* sanitizer_fiber_create() noexcept {
#ifdef WEFT_TSAN
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}

void sanitizer_fiber_destroy(void* tsan_fiber) noexcept {
#ifdef WEFT_TSAN
  if (tsan_fiber) __tsan_destroy_fiber(tsan_fiber);
#else
  (void)tsan_fiber;
#endif
}

}  // namespace weft::detail
