// Holders as stack addresses. See ownership.hpp.
#include "sync/ownership.hpp"

#include <pthread.h>

#include "fiber/fiber.hpp"
#include "sync/waiting.hpp"

namespace weft::detail {

namespace {

struct address_range {
  std::uintptr_t low = 0;
  std::uintptr_t high = 0;
};

// The calling plain thread's stack, looked up once per thread.
address_range thread_stack_range() noexcept {
  thread_local const address_range range = [] {
    address_range r;
    pthread_attr_t attributes;
    if (pthread_getattr_np(pthread_self(), &attributes) != 0) return r;
    void* low = nullptr;
    std::size_t size = 0;
    if (pthread_attr_getstack(&attributes, &low, &size) == 0) {
      r.low = reinterpret_cast<std::uintptr_t>(low);
      r.high = r.low + size;
    }
    pthread_attr_destroy(&attributes);
    return r;
  }();
  return range;
}

}  // namespace

bool on_current_stack(std::uintptr_t address) noexcept {
  if (address == 0) return false;
  address_range range;
  if (const fiber* f = current_waiter()) {
    range = {reinterpret_cast<std::uintptr_t>(f->stack.bottom),
             reinterpret_cast<std::uintptr_t>(f->stack.top())};
  } else {
    range = thread_stack_range();
  }
  return address >= range.low && address < range.high;
}

}  // namespace weft::detail
