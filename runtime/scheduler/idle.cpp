// Searching/sleeping protocol. See idle.hpp.
#include "scheduler/idle.hpp"

#include <algorithm>
#include <mutex>

namespace weft::detail {

idle_set::idle_set(unsigned workers, wake_fn wake, void* context)
    : workers_(workers), wake_(wake), wake_context_(context) {
  sleepers_.reserve(workers);
}

void idle_set::notify_work_available() noexcept {
  // acq_rel RMW: the caller's publication of work is sequenced before it;
  // see the protocol in idle.hpp.
  const std::uint64_t seen = state_.fetch_add(0, std::memory_order_acq_rel);
  if (searching_of(seen) != 0 || sleeping_of(seen) == 0) return;
  wake_sleeper(true);
}

void idle_set::notify_woken() noexcept {
  // seq_cst load after the caller's seq_cst slot exchange, against the
  // sleeper's seq_cst RMWs then slot loads: a plain load on x86, where the
  // RMW notify_work_available() uses would be a second locked instruction
  // per wake. See "The run-next watch" in idle.hpp.
  const std::uint64_t seen = state_.load(std::memory_order_seq_cst);
  if ((seen & watching) != 0 || searching_of(seen) != 0 || sleeping_of(seen) == 0) return;
  wake_sleeper(true);
}

bool idle_set::try_take_watch() noexcept {
  // seq_cst RMW: after the caller's add_sleeper, before its next slot read.
  return (state_.fetch_or(watching, std::memory_order_seq_cst) & watching) == 0;
}

void idle_set::release_watch() noexcept {
  // seq_cst RMW: a placement whose notify_woken() load comes later in the
  // total order sees no watcher; one that comes earlier is visible to the
  // caller's slot re-read that follows.
  state_.fetch_and(~watching, std::memory_order_seq_cst);
}

void idle_set::wake_one_sleeper() noexcept {
  // acq_rel RMW on the word the sleeper's registration RMWs: either we see a
  // worker that registered as a sleeper, or its registration comes after
  // ours in the word's order, reads from ours (RMWs continue release
  // sequences), and so reads the new deadline the caller published before.
  const std::uint64_t seen = state_.fetch_add(0, std::memory_order_acq_rel);
  if (sleeping_of(seen) != 0) wake_sleeper(false);
}

void idle_set::wake_sleeper(bool unless_searching) noexcept {
  unsigned index = 0;
  {
    std::lock_guard<spinlock> hold(lock_);
    // Re-checked under the lock: another notifier may have taken the last
    // sleeper, or made someone a searcher, meanwhile.
    if (sleepers_.empty()) return;
    if (unless_searching && searching_of(state_.load(std::memory_order_relaxed)) != 0) return;
    index = sleepers_.back();
    sleepers_.pop_back();
    // One sleeper fewer, one searcher more: counted as a searcher on its
    // behalf before it runs, so the notifiers that follow see searching != 0
    // and do not wake a second worker for the same burst of work.
    state_.fetch_add(one_searching - one_sleeping, std::memory_order_seq_cst);
  }
  wake_(wake_context_, index);
}

bool idle_set::try_begin_search() noexcept {
  const std::uint64_t s = state_.load(std::memory_order_relaxed);
  const std::uint32_t awake = workers_ - sleeping_of(s);
  if (2 * searching_of(s) >= std::max<std::uint32_t>(awake, 2)) return false;
  state_.fetch_add(one_searching, std::memory_order_seq_cst);
  return true;
}

std::uint32_t idle_set::end_search(bool found) noexcept {
  // seq_cst RMW: part of the protocol in idle.hpp when the searcher goes on
  // to sleep (seq_cst for the run-next watch's plain load).
  const std::uint64_t before = state_.fetch_sub(one_searching, std::memory_order_seq_cst);
  if (found && searching_of(before) == 1) notify_work_available();
  return searching_of(before) - 1;
}

std::uint32_t idle_set::add_sleeper(unsigned index) {
  std::lock_guard<spinlock> hold(lock_);
  sleepers_.push_back(index);
  // seq_cst RMW: the sleeper's half of the protocol in idle.hpp (seq_cst
  // for the run-next watch's plain load).
  return searching_of(state_.fetch_add(one_sleeping, std::memory_order_seq_cst));
}

bool idle_set::remove_sleeper(unsigned index) noexcept {
  std::lock_guard<spinlock> hold(lock_);
  const auto it = std::find(sleepers_.begin(), sleepers_.end(), index);
  if (it == sleepers_.end()) return false;
  sleepers_.erase(it);
  state_.fetch_sub(one_sleeping, std::memory_order_relaxed);
  return true;
}

}  // namespace weft::detail
