// Holders as stack addresses. See ownership.hpp.
#include "sync/ownership.hpp"

#include <cstddef>

#include "fiber/context.hpp"
#include "fiber/fiber.hpp"
#include "sync/waiting.hpp"

namespace weft::detail {

namespace {

// The calling plain thread's stack (context.hpp), looked up once per
// thread: the look-up reads /proc/self/maps for the main thread.
const execution_stack& plain_thread_stack() {
  thread_local const execution_stack stack = thread_stack();
  return stack;
}

}  // namespace

bool on_current_stack(std::uintptr_t address) noexcept {
  if (address == 0) return false;
  const fiber* f = current_waiter();
  const auto* bottom =
      static_cast<const std::byte*>(f ? f->stack.bottom : plain_thread_stack().bottom);
  const std::size_t size = f ? f->stack.size : plain_thread_stack().size;
  const auto* p = reinterpret_cast<const std::byte*>(address);
  return p >= bottom && p < bottom + size;
}

}  // namespace weft::detail
