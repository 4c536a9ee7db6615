// context: the one place that switches stacks, and tells the sanitizers.
//
// A context is a suspended stack (registers saved on it, handle = its stack
// pointer), implemented with Boost.Context's fcontext (make_fcontext /
// jump_fcontext), which context.cpp alone includes. Every switch tells
// AddressSanitizer (__sanitizer_start/finish_switch_fiber) and
// ThreadSanitizer (__tsan_switch_to_fiber) which stack runs next, when the
// build uses them; otherwise those calls compile to nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "weft/detail/exception_state.hpp"

// WEFT_ASAN / WEFT_TSAN: this translation unit is built with AddressSanitizer
// / ThreadSanitizer (GCC's and Clang's ways of saying so).
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

namespace weft::detail {

/// Whether a sanitizer must be told of every context switch (context.cpp).
#if defined(WEFT_ASAN) || defined(WEFT_TSAN)
inline constexpr bool switches_annotated = true;
#else
inline constexpr bool switches_annotated = false;
#endif

/// A suspended context: valid until resumed once.
using context_handle = void*;

/// Delivered to the context that resumes: who switched to it, and a pointer
/// the switcher passed along.
struct transfer {
  context_handle from;
  void* data;
};

/// A stack that contexts run on, as the sanitizers need to know it.
struct execution_stack {
  void* bottom = nullptr;      ///< lowest usable address
  std::size_t size = 0;        ///< usable bytes
  void* tsan_fiber = nullptr;  ///< ThreadSanitizer's handle; nullptr without TSan
};

/// Clears what the sanitizers remember about a recycled stack (ASan's
/// redzone poison left by frames of a fiber that never unwound). No-op
/// without ASan.
void forget_stack_frames(void* bottom, std::size_t size) noexcept;

/// Prepares a new context on [top - size, top) that, when first switched to,
/// calls fiber_entry(). `top` must be 16-byte aligned.
context_handle make_context(void* top, std::size_t size) noexcept;

/// Where a new context starts (after the sanitizers were told the switch
/// completed); defined by the scheduler (worker.cpp). Never returns.
[[noreturn]] void fiber_entry(transfer t) noexcept;

/// As make_context, for a generator's body: the context starts in
/// generator_entry() (generator.cpp). Never returns.
context_handle make_generator_context(void* top, std::size_t size) noexcept;
[[noreturn]] void generator_entry(transfer t) noexcept;

/// Suspends the calling context and resumes `to` (running on `target`),
/// passing `data`. Returns when something switches back here. Pass
/// `leaving_forever` when the calling context will never be resumed (its
/// stack is about to be recycled).
transfer switch_context(context_handle to, const execution_stack& target, void* data,
                        bool leaving_forever = false) noexcept;

/// Where a switched-out context resumes and the registers an unwinder
/// needs to walk its stack from there (x86-64 System V: the callee-saved
/// ones; the caller-saved are dead across the switch).
struct saved_registers {
  std::uintptr_t pc = 0;  ///< the return address into the code that switched
  std::uintptr_t sp = 0;  ///< the stack pointer as that code's unwind info expects it
  std::uintptr_t rbp = 0, rbx = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
};
/// Reads them from a suspended context, which must not be resumed
/// meanwhile. False where the layout is unknown (other than x86-64).
bool read_saved_registers(context_handle ctx, saved_registers& out) noexcept;

/// The calling thread's exception state block (__cxa_get_globals()); its
/// address is fixed for the thread's lifetime, so a worker looks it up once.
exception_state* thread_exception_state() noexcept;

/// The calling thread's own stack (for the worker's scheduler context).
execution_stack thread_stack() noexcept;

/// Creates / destroys ThreadSanitizer's state for a fiber stack (no-ops
/// without TSan). Destroy only from another context.
void* sanitizer_fiber_create() noexcept;
void sanitizer_fiber_destroy(void* tsan_fiber) noexcept;

}  // namespace weft::detail
