// stack_unwinder: walks the stack of a switched-out fiber from its saved
// registers and names each frame, with elfutils' libdw.
//
// Why libdw. It does both halves with one dependency: libdwfl unwinds from a
// register set we hand it (Dwfl_Thread_Callbacks: we supply the registers
// jump_fcontext saved and a memory reader confined to the fiber's stack) by
// the executable's and libraries' CFI (.eh_frame/.debug_frame), so -O2 code
// without frame pointers unwinds; and it symbolizes from the ELF symbol
// table (.symtab too, so a plain executable without -rdynamic shows its own
// functions) and the DWARF line table (file:line with -g). libunwind's
// remote API could unwind the same way, but linking libunwind.so also puts
// its _Unwind_* entry points in front of libgcc's for C++ exceptions, and
// it would still need a symbolizer for file:line. Boost.Stacktrace walks
// only the calling thread's own stack.
//
// Cost. Creating an unwinder reads /proc/self/maps and reports every
// mapped module; the first unwind or lookup in a module reads its ELF
// sections and unwind tables, the first line lookup its DWARF. That is
// milliseconds, paid per dump, never on a scheduling path. Not async-signal
// safe: the dump signal hands the work to a thread (fiber_dump.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fiber/context.hpp"
#include "weft/fiber_info.hpp"

struct Dwfl;
struct Dwfl_Thread;

namespace weft::detail {

class stack_unwinder {
 public:
  stack_unwinder() noexcept;
  ~stack_unwinder();
  stack_unwinder(const stack_unwinder&) = delete;
  stack_unwinder& operator=(const stack_unwinder&) = delete;

  /// False if libdw could not map this process: every unwind is then empty.
  [[nodiscard]] bool usable() const noexcept { return attached_; }

  /// The program counters of the frames of a suspended context whose stack
  /// is [stack_low, stack_high), innermost first: the first is where the
  /// context resumes, the others return addresses. At most `max_frames`.
  /// The stack must not change meanwhile.
  std::vector<std::uintptr_t> unwind(const saved_registers& regs, std::uintptr_t stack_low,
                                     std::uintptr_t stack_high, std::size_t max_frames);

  /// Names the code at `pc` (a return address unless it is the innermost
  /// frame of a running thread: the lookup then uses pc - 1, inside the
  /// call): one frame per function inlined there, innermost first, then the
  /// function they were inlined into.
  std::vector<stack_frame> describe(std::uintptr_t pc, bool return_address);

 private:
  struct target {
    saved_registers regs;
    std::uintptr_t low = 0;
    std::uintptr_t high = 0;
  };
  static bool read_memory(Dwfl* dwfl, std::uint64_t address, std::uint64_t* result, void* arg);
  static bool set_initial_registers(Dwfl_Thread* thread, void* arg);

  Dwfl* dwfl_ = nullptr;
  bool attached_ = false;
  target target_;  ///< the context unwind() walks now
};

}  // namespace weft::detail
