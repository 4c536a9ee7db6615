// select: wait on several channel operations at once, perform exactly one.
//
// Like Go's selectgo: lock every channel involved (in address order, so two
// selects never deadlock on each other), poll the cases in a random order
// and perform the first ready one (uniform among the ready ones); with none
// ready, return for `default`, or enqueue one node per case — all sharing
// one parker — and park. The parker's claim (waiting.hpp) lets exactly one
// waker win: the winner performs its case under its channel's lock, and the
// other nodes become stale and are unlinked when the select wakes up.
#include <algorithm>
#include <vector>

#include "fiber/fiber.hpp"
#include "sync/channel_internals.hpp"
#include "sync/waiting.hpp"

namespace weft::detail {

namespace {

std::uint64_t next_random() noexcept {
  // Per-thread xorshift: a select needs a fair shuffle, not a secure one.
  thread_local std::uint64_t state =
      0x2545F4914F6CDD1DULL ^ reinterpret_cast<std::uintptr_t>(&state);
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

// The distinct channel locks of `cases`, sorted by address.
std::vector<wait_list*> locks_of(const select_case* cases, std::size_t count) {
  std::vector<wait_list*> locks;
  locks.reserve(count);
  for (std::size_t i = 0; i < count; ++i) locks.push_back(&cases[i].channel->senders);
  std::sort(locks.begin(), locks.end());
  locks.erase(std::unique(locks.begin(), locks.end()), locks.end());
  return locks;
}

void unlock_all(const std::vector<wait_list*>& locks) noexcept {
  for (wait_list* l : locks) unlock(*l);
}

}  // namespace

select_outcome select_cases(select_case* cases, std::size_t count, steady_time deadline,
                            bool has_default) {
  const std::vector<wait_list*> locks = locks_of(cases, count);
  std::vector<std::uint32_t> order(count);
  for (std::uint32_t i = 0; i < count; ++i) order[i] = i;
  for (std::size_t i = count; i > 1; --i) {  // Fisher-Yates
    std::swap(order[i - 1], order[next_random() % i]);
  }

  parker p(current_waiter());
  std::vector<waiter_node> nodes(count);  // allocated before the locks are taken
  for (wait_list* l : locks) lock(*l);
  for (const std::uint32_t i : order) {
    select_case& c = cases[i];
    channel_status result;
    waiter_node* woken = c.is_send ? c.channel->try_send_locked(c.value, result)
                                   : c.channel->try_recv_locked(c.value, result);
    if (result == channel_status::ok || result == channel_status::closed) {
      unlock_all(locks);
      if (woken) wake(*woken->owner);
      return {i, result == channel_status::closed};
    }
  }
  if (has_default ||
      (deadline != steady_time::max() && deadline <= std::chrono::steady_clock::now())) {
    unlock_all(locks);
    return {select_outcome::none, false};
  }

  for (std::uint32_t i = 0; i < count; ++i) {
    waiter_node& node = nodes[i];
    node.owner = &p;
    node.index = i;
    node.payload = cases[i].value;
    channel_core* ch = cases[i].channel;
    push_back(cases[i].is_send ? ch->senders : ch->receivers, node, &ch->senders);
  }
  const std::uint32_t outcome =
      wait_claimed(p, locks.data(), locks.size(), nodes.data(), nodes.size(), to_deadline(deadline),
                   wait_kind::select, cases);
  if (outcome == parker::cancelled) throw_cancelled();  // no case was performed
  if (outcome == parker::timed_out) return {select_outcome::none, false};
  const std::uint32_t chosen = outcome - 1;
  return {chosen, nodes[chosen].status == channel_waiter_saw_closed};
}

}  // namespace weft::detail
