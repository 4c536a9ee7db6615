// Live-fiber registry. See registry.hpp.
#include "registry.hpp"

#include <chrono>
#include <mutex>

#include "fiber.hpp"
#include "futex.hpp"

namespace weft::detail {

namespace {
// `done` is still running: it finished its body and is switching away for
// good. `created` (never run) counts as ready.
fiber_state public_state(run_state s) noexcept {
  switch (s) {
    case run_state::running:
    case run_state::done:
      return fiber_state::running;
    case run_state::parked:
      return fiber_state::parked;
    default:
      return fiber_state::ready;
  }
}
}  // namespace

fiber_registry::fiber_registry(unsigned shards)
    : shards_(std::make_unique<shard[]>(shards)), shard_count_(shards) {}

void fiber_registry::add(fiber& f, unsigned shard_index) {
  shard& s = shards_[shard_index];
  f.registry_shard = shard_index;
  std::lock_guard<spinlock> hold(s.lock);
  f.registry_prev = nullptr;
  f.registry_next = s.head;
  if (s.head) s.head->registry_prev = &f;
  s.head = &f;
}

void fiber_registry::remove(fiber& f) noexcept {
  shard& s = shards_[f.registry_shard];
  bool notify = false;
  {
    std::lock_guard<spinlock> hold(s.lock);
    if (f.registry_prev) {
      f.registry_prev->registry_next = f.registry_next;
    } else {
      s.head = f.registry_next;
    }
    if (f.registry_next) f.registry_next->registry_prev = f.registry_prev;
    // relaxed: ordered by the shard lock (see the essay in registry.hpp).
    notify = draining_.load(std::memory_order_relaxed);
  }
  if (notify) {
    drain_epoch_.fetch_add(1, std::memory_order_release);
    futex_wake(drain_epoch_, 1);
  }
}

std::vector<fiber_info> fiber_registry::snapshot() const {
  std::vector<fiber_info> out;
  for (unsigned i = 0; i < shard_count_; ++i) {
    const shard& s = shards_[i];
    std::lock_guard<spinlock> hold(s.lock);
    for (const fiber* f = s.head; f; f = f->registry_next) {
      fiber_info info;
      info.id = fiber_id(f->id);
      info.name = f->name;
      info.state = public_state(f->state.load(std::memory_order_acquire));
      info.waiting_on = f->waiting_on.load(std::memory_order_relaxed);
      info.wait_object = f->wait_object.load(std::memory_order_relaxed);
      info.waiting_since = std::chrono::steady_clock::time_point(
          std::chrono::nanoseconds(f->wait_since_ns.load(std::memory_order_relaxed)));
      out.push_back(std::move(info));
    }
  }
  return out;
}

bool fiber_registry::empty() const noexcept {
  for (unsigned i = 0; i < shard_count_; ++i) {
    std::lock_guard<spinlock> hold(shards_[i].lock);
    if (shards_[i].head) return false;
  }
  return true;
}

void fiber_registry::wait_until_empty(bool (*nothing_pending)(const void*),
                                      const void* context) noexcept {
  draining_.store(true, std::memory_order_seq_cst);
  for (;;) {
    const std::uint32_t epoch = drain_epoch_.load(std::memory_order_acquire);
    // Pending first: a fiber counted as no longer pending is linked already
    // (or retired), so the emptiness check below sees it.
    if (nothing_pending(context) && empty()) return;
    futex_wait(drain_epoch_, epoch);
  }
}

}  // namespace weft::detail
