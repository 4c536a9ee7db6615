// Searching/sleeping protocol. See idle.hpp.
#include "idle.hpp"

#include <algorithm>
#include <mutex>

namespace weft::detail {

idle_set::idle_set(unsigned workers, wake_fn wake, void* context)
    : workers_(workers), wake_(wake), wake_context_(context) {
  sleepers_.reserve(workers);
}

void idle_set::notify_work_available() noexcept {
  // seq_cst fence: orders the caller's publication of work (a queue store)
  // before the loads below; pairs with the fence a sleeper runs between
  // add_sleeper() and its final re-check (see idle.hpp).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (searching_.load(std::memory_order_relaxed) != 0) return;
  if (sleeping_.load(std::memory_order_relaxed) == 0) return;
  unsigned index = 0;
  {
    std::lock_guard<spinlock> hold(lock_);
    // Re-checked under the lock: another notifier may have taken the last
    // sleeper, or made someone a searcher, meanwhile.
    if (sleepers_.empty() || searching_.load(std::memory_order_relaxed) != 0) return;
    index = sleepers_.back();
    sleepers_.pop_back();
    sleeping_.fetch_sub(1, std::memory_order_relaxed);
    // Counted as a searcher on its behalf before it runs, so the notifiers
    // that follow see searching != 0 and do not wake a second worker.
    searching_.fetch_add(1, std::memory_order_seq_cst);
  }
  wake_(wake_context_, index);
}

bool idle_set::try_begin_search() noexcept {
  const std::uint32_t awake = workers_ - sleeping_.load(std::memory_order_relaxed);
  if (2 * searching_.load(std::memory_order_relaxed) >= std::max<std::uint32_t>(awake, 2)) {
    return false;
  }
  searching_.fetch_add(1, std::memory_order_seq_cst);
  return true;
}

void idle_set::end_search(bool found) noexcept {
  // seq_cst RMW: when it is the last searcher leaving, the notify below must
  // not be ordered before it (a notifier that saw searching != 0 relied on us).
  const std::uint32_t before = searching_.fetch_sub(1, std::memory_order_seq_cst);
  if (found && before == 1) notify_work_available();
}

void idle_set::add_sleeper(unsigned index) {
  std::lock_guard<spinlock> hold(lock_);
  sleepers_.push_back(index);
  sleeping_.fetch_add(1, std::memory_order_seq_cst);
}

bool idle_set::remove_sleeper(unsigned index) noexcept {
  std::lock_guard<spinlock> hold(lock_);
  const auto it = std::find(sleepers_.begin(), sleepers_.end(), index);
  if (it == sleepers_.end()) return false;
  sleepers_.erase(it);
  sleeping_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

}  // namespace weft::detail
