// Stack switching on Boost.Context's fcontext, with sanitizer hooks.
// The only file of weft that includes Boost.Context.
#include "fiber/context.hpp"

#include <cxxabi.h>
#include <pthread.h>

#include <boost/context/detail/fcontext.hpp>

#include "weft/detail/generator_core.hpp"

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

#if defined(__x86_64__) && !defined(WEFT_ASAN) && !defined(WEFT_TSAN)
// jump_fcontext, entered with a push and a jump instead of a call.
//
// jump_fcontext leaves through `jmp *%r8` to the saved return address, not
// `ret`, so the call that entered it leaves an entry on the CPU's return
// stack buffer that is never popped: every return after the switch is then
// predicted one entry off and mispredicts, a dozen cycles per call level
// between the fiber's code and the switch (yield: 9 ns with LTO, which
// inlines the levels away; 32-38 ns without). Entering without a call keeps
// the buffer balanced: each fiber that suspended at the same call site
// returns to exactly the predicted addresses, whatever the call depth.
// To jump_fcontext the entry is indistinguishable from a call (the return
// address is on the stack); the red zone is stepped over first, since this
// function's frame may keep data below the stack pointer.
constexpr std::uintptr_t entry_red_zone = 128;  // the `sub $128` below

fctx::transfer_t jump_without_call(fctx::fcontext_t to, void* data) noexcept {
  fctx::transfer_t t;
  asm volatile(
      "sub $128, %%rsp\n\t"
      "lea 1f(%%rip), %%rax\n\t"
      "push %%rax\n\t"
      "jmp jump_fcontext@PLT\n\t"
      "1:\n\t"
      "add $128, %%rsp\n\t"
      : "=a"(t.fctx), "=d"(t.data), "+D"(to), "+S"(data)
      :
      // What a call may clobber (the callee-saved registers are saved and
      // restored by jump_fcontext itself).
      : "rcx", "r8", "r9", "r10", "r11", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
        "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
        "xmm15", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
  return t;
}
#else
constexpr std::uintptr_t entry_red_zone = 0;  // entered with a plain call

fctx::transfer_t jump_without_call(fctx::fcontext_t to, void* data) noexcept {
  return fctx::jump_fcontext(to, data);
}
#endif

// fcontext's entry signature uses Boost's transfer_t; convert once here.
template <void (*entry)(transfer) noexcept>
void entry_trampoline(fctx::transfer_t t) {
  // Complete the switch for ASan before anything else: the compiler inserts
  // __asan_handle_no_return before the [[noreturn]] call below, which must
  // already see this stack as the current one.
#ifdef WEFT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  entry(transfer{t.fctx, t.data});
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

#if defined(__x86_64__)
// jump_fcontext (Boost.Context, x86-64 System V) saves, from the handle up:
// MXCSR and the x87 control word (8 bytes), r12, r13, r14, r15, rbx, rbp,
// then the return address its caller left; the caller resumes with the
// stack pointer just above that. jump_without_call enters 128 bytes lower
// (the red zone it steps over), which the unwind info of the code around
// it does not know: report the pointer that code expects.
[[gnu::no_sanitize_address]] bool read_saved_registers(context_handle ctx,
                                                       saved_registers& out) noexcept {
  const auto* slot = static_cast<const std::uintptr_t*>(ctx);
  out.r12 = slot[1];
  out.r13 = slot[2];
  out.r14 = slot[3];
  out.r15 = slot[4];
  out.rbx = slot[5];
  out.rbp = slot[6];
  out.pc = slot[7];
  out.sp = reinterpret_cast<std::uintptr_t>(slot + 8) + entry_red_zone;
  return true;
}
#else
bool read_saved_registers(context_handle, saved_registers&) noexcept { return false; }
#endif

context_handle make_context(void* top, std::size_t size) noexcept {
  return fctx::make_fcontext(top, size, &entry_trampoline<&fiber_entry>);
}

context_handle make_generator_context(void* top, std::size_t size) noexcept {
  return fctx::make_fcontext(top, size, &entry_trampoline<&generator_entry>);
}

// The generators' fast path (weft/detail/generator_core.hpp): straight to
// jump_fcontext, whose result has the same layout, so that the switch adds
// no frame. Unused where sanitizers need each switch announced.
#if defined(__x86_64__)
asm(".text\n\t"
    ".globl weft_detail_generator_switch\n\t"
    ".type weft_detail_generator_switch, @function\n"
    "weft_detail_generator_switch:\n\t"
    "jmp jump_fcontext@PLT\n\t"
    ".size weft_detail_generator_switch, .-weft_detail_generator_switch");
#else
extern "C" generator_switch_result weft_detail_generator_switch(void* to, void* data) noexcept {
  const fctx::transfer_t t = fctx::jump_fcontext(to, data);
  return {t.fctx, t.data};
}
#endif

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
  const fctx::transfer_t t = jump_without_call(to, data);
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
