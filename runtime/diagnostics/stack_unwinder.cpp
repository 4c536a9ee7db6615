// Unwinding and naming frames with libdw. See stack_unwinder.hpp.
#include "diagnostics/stack_unwinder.hpp"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace weft::detail {

namespace {

// DWARF register numbers of x86-64 (System V psABI, figure 3.36).
enum : int { dwarf_rbx = 3, dwarf_rbp = 6, dwarf_rsp = 7, dwarf_r12 = 12 };

const Dwfl_Callbacks process_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = nullptr,
    .debuginfo_path = nullptr,
};

// libdwfl asks for "threads" by id; we hand it one at a time, the context
// unwind() is walking, under the process id.
pid_t next_thread(Dwfl* /*dwfl*/, void* dwfl_arg, void** thread_arg) {
  if (*thread_arg != nullptr) return 0;
  *thread_arg = dwfl_arg;
  return getpid();
}

struct frame_walk {
  std::vector<std::uintptr_t>* pcs;
  std::size_t max_frames;
};

int collect_frame(Dwfl_Frame* frame, void* arg) {
  auto* walk = static_cast<frame_walk*>(arg);
  Dwarf_Addr pc = 0;
  if (!dwfl_frame_pc(frame, &pc, nullptr) || pc == 0) return DWARF_CB_ABORT;
  walk->pcs->push_back(static_cast<std::uintptr_t>(pc));
  return walk->pcs->size() < walk->max_frames ? DWARF_CB_OK : DWARF_CB_ABORT;
}

std::string demangle(const char* symbol);

// The demangled linkage name of a function's DIE, else its name qualified
// by the namespaces, classes and function it is declared in (GCC gives an
// inlined lambda or template, or a function of an anonymous namespace, no
// linkage name); empty if it has no name. An inlined instance or an
// out-of-line copy refers to its declaration through DW_AT_abstract_origin
// and DW_AT_specification: followed a few hops.
std::string function_name(Dwarf_Die* die) {
  Dwarf_Die declaration = *die;
  Dwarf_Attribute attribute;
  for (int hop = 0; hop < 8; ++hop) {
    if (dwarf_attr(&declaration, DW_AT_linkage_name, &attribute) != nullptr ||
        dwarf_attr(&declaration, DW_AT_MIPS_linkage_name, &attribute) != nullptr) {
      if (const char* mangled = dwarf_formstring(&attribute)) return demangle(mangled);
    }
    if (dwarf_attr(&declaration, DW_AT_abstract_origin, &attribute) == nullptr &&
        dwarf_attr(&declaration, DW_AT_specification, &attribute) == nullptr) {
      break;
    }
    Dwarf_Die next;
    if (dwarf_formref_die(&attribute, &next) == nullptr) break;
    declaration = next;
  }
  const char* name = dwarf_diename(&declaration);
  if (name == nullptr) return {};
  std::string qualified = name;
  Dwarf_Die* scopes = nullptr;
  const int count = dwarf_getscopes_die(&declaration, &scopes);
  for (int i = 1; i < count; ++i) {
    const int tag = dwarf_tag(&scopes[i]);
    const char* scope_name = dwarf_diename(&scopes[i]);
    if (tag == DW_TAG_subprogram) {  // a lambda's or local class's enclosing function
      qualified.insert(0, function_name(&scopes[i]) + "::");
      break;  // its name is qualified already
    }
    if (tag == DW_TAG_namespace) {
      qualified.insert(0, std::string(scope_name ? scope_name : "(anonymous namespace)") + "::");
    } else if (tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
               tag == DW_TAG_union_type) {
      qualified.insert(0, std::string(scope_name ? scope_name : "{lambda}") + "::");
    }
  }
  std::free(scopes);
  return qualified;
}

// Moves (file, line) to the call site of the inlined instance `inlined`,
// which lies in the function that contains it.
void call_site(Dwarf_Die* unit, Dwarf_Die* inlined, std::string& file, unsigned& line) {
  Dwarf_Attribute attribute;
  Dwarf_Word value = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attribute), &value) == 0) {
    line = static_cast<unsigned>(value);
  }
  Dwarf_Files* files = nullptr;
  std::size_t file_count = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attribute), &value) == 0 &&
      dwarf_getsrcfiles(unit, &files, &file_count) == 0 && value < file_count) {
    if (const char* name = dwarf_filesrc(files, value, nullptr, nullptr)) file = name;
  }
}

std::string demangle(const char* symbol) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(symbol, nullptr, nullptr, &status), &std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(symbol);
}

}  // namespace

stack_unwinder::stack_unwinder() noexcept {
  static const Dwfl_Thread_Callbacks thread_callbacks = {
      .next_thread = next_thread,
      .get_thread = nullptr,
      .memory_read = &stack_unwinder::read_memory,
      .set_initial_registers = &stack_unwinder::set_initial_registers,
      .detach = nullptr,
      .thread_detach = nullptr,
  };
  dwfl_ = dwfl_begin(&process_callbacks);
  if (dwfl_ == nullptr) return;
  if (dwfl_linux_proc_report(dwfl_, getpid()) != 0 ||
      dwfl_report_end(dwfl_, nullptr, nullptr) != 0) {
    return;
  }
  attached_ = dwfl_attach_state(dwfl_, nullptr, getpid(), &thread_callbacks, &target_);
}

stack_unwinder::~stack_unwinder() {
  if (dwfl_) dwfl_end(dwfl_);
}

// Reads one word of the stack being walked; anything outside it is refused,
// so a corrupt frame ends the walk instead of faulting. Not instrumented: the
// words are a suspended fiber's frames, which AddressSanitizer may have
// poisoned as redzones and ThreadSanitizer saw written by another thread.
[[gnu::no_sanitize_address, gnu::no_sanitize_thread]] bool stack_unwinder::read_memory(
    Dwfl* /*dwfl*/, std::uint64_t address, std::uint64_t* result, void* arg) {
  const auto* t = static_cast<const target*>(arg);
  if (address < t->low || address + sizeof(std::uint64_t) > t->high ||
      address % alignof(std::uint64_t) != 0) {
    return false;
  }
  std::memcpy(result, reinterpret_cast<const void*>(address), sizeof(std::uint64_t));
  return true;
}

bool stack_unwinder::set_initial_registers(Dwfl_Thread* thread, void* arg) {
  const saved_registers& r = static_cast<const target*>(arg)->regs;
  const Dwarf_Word rbx = r.rbx;
  const Dwarf_Word rbp_rsp[2] = {r.rbp, r.sp};
  const Dwarf_Word r12_r15[4] = {r.r12, r.r13, r.r14, r.r15};
  if (!dwfl_thread_state_registers(thread, dwarf_rbx, 1, &rbx) ||
      !dwfl_thread_state_registers(thread, dwarf_rbp, 2, rbp_rsp) ||
      !dwfl_thread_state_registers(thread, dwarf_r12, 4, r12_r15)) {
    return false;
  }
  static_assert(dwarf_rsp == dwarf_rbp + 1);
  dwfl_thread_state_register_pc(thread, r.pc);
  return true;
}

std::vector<std::uintptr_t> stack_unwinder::unwind(const saved_registers& regs,
                                                   std::uintptr_t stack_low,
                                                   std::uintptr_t stack_high,
                                                   std::size_t max_frames) {
  std::vector<std::uintptr_t> pcs;
  if (!attached_ || max_frames == 0) return pcs;
  pcs.reserve(max_frames);  // collect_frame, called from C, must not throw
  target_ = target{regs, stack_low, stack_high};
  frame_walk walk{&pcs, max_frames};
  // Ends with an error at the outermost frame (nothing to unwind to): the
  // frames collected so far are the stack.
  (void)dwfl_getthread_frames(dwfl_, getpid(), &collect_frame, &walk);
  return pcs;
}

std::vector<stack_frame> stack_unwinder::describe(std::uintptr_t pc, bool return_address) {
  const Dwarf_Addr lookup = return_address ? pc - 1 : pc;
  Dwfl_Module* module = dwfl_ ? dwfl_addrmodule(dwfl_, lookup) : nullptr;
  if (module == nullptr) return {stack_frame{pc, {}, {}, 0}};
  // Where the pc is, by the line table: the innermost (maybe inlined) function's line.
  std::string file;
  unsigned line = 0;
  if (Dwfl_Line* l = dwfl_module_getsrc(module, lookup)) {
    int number = 0;
    if (const char* name = dwfl_lineinfo(l, nullptr, &number, nullptr, nullptr, nullptr)) {
      file = name;
      line = static_cast<unsigned>(number);
    }
  }
  std::vector<stack_frame> frames;
  // One frame per function inlined at the pc, innermost first, each at the
  // line where the next one in was inlined, down to the real function (as
  // addr2line -i). Without debug info: the symbol table's name alone.
  // dwarf_getscopes finds the innermost function scope at the pc, but past
  // an inlined instance it goes on with the scopes of the inlined
  // function's definition (for a lambda: the function that defines it), so
  // the chain of callers comes from the instance's place in the DIE tree.
  Dwarf_Addr bias = 0;
  Dwarf_Die* unit = dwfl_module_addrdie(module, lookup, &bias);
  Dwarf_Die* scopes = nullptr;
  const int count = unit ? dwarf_getscopes(unit, lookup - bias, &scopes) : 0;
  Dwarf_Die* chain = nullptr;
  int chain_length = 0;
  for (int i = 0; i < count; ++i) {
    const int tag = dwarf_tag(&scopes[i]);
    if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram) {
      chain_length = dwarf_getscopes_die(&scopes[i], &chain);
      break;
    }
  }
  for (int i = 0; i < chain_length; ++i) {
    Dwarf_Die* scope = &chain[i];
    const int tag = dwarf_tag(scope);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
    frames.push_back(stack_frame{pc, function_name(scope), file, line});
    if (tag == DW_TAG_subprogram) break;
    call_site(unit, scope, file, line);
  }
  std::free(chain);
  std::free(scopes);
  // The function itself (the outermost frame at this pc): the symbol
  // table's name, demangled, carries the parameter types that DWARF's
  // names lack where there is no linkage name.
  if (frames.empty()) frames.push_back(stack_frame{pc, {}, file, line});
  if (const char* symbol = dwfl_module_addrname(module, lookup)) {
    frames.back().function = demangle(symbol);
  }
  return frames;
}

}  // namespace weft::detail
