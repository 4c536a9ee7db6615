// Timer heap. See timers.hpp.
#include "scheduler/timers.hpp"

#include <algorithm>
#include <mutex>

#include "fiber/fiber.hpp"

namespace weft::detail {

time_left::time_left(std::int64_t deadline_ns) noexcept {
  if (deadline_ns == no_deadline) return;
  const std::int64_t ns = std::max<std::int64_t>(0, deadline_ns - steady_now_ns());
  rest_.tv_sec = static_cast<std::time_t>(ns / 1'000'000'000);
  rest_.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  limited_ = true;
}

void timer_heap::place(std::size_t i, timer_entry* e) noexcept {
  heap_[i] = e;
  e->heap_index = i;
}

void timer_heap::sift_up(std::size_t i) noexcept {
  timer_entry* e = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (heap_[parent]->deadline_ns <= e->deadline_ns) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void timer_heap::sift_down(std::size_t i) noexcept {
  timer_entry* e = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->deadline_ns < heap_[child]->deadline_ns) ++child;
    if (e->deadline_ns <= heap_[child]->deadline_ns) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, e);
}

void timer_heap::remove_at(std::size_t i) noexcept {
  timer_entry* removed = heap_[i];
  timer_entry* last = heap_.back();
  heap_.pop_back();
  removed->heap_index = timer_entry::not_queued;
  if (i < heap_.size()) {
    place(i, last);
    sift_down(i);
    sift_up(last->heap_index);
  }
}

void timer_heap::publish_earliest() noexcept {
  earliest_.store(heap_.empty() ? no_deadline : heap_.front()->deadline_ns,
                  std::memory_order_relaxed);
}

bool timer_heap::add(timer_entry* entry) {
  std::lock_guard<spinlock> hold(lock_);
  heap_.push_back(entry);
  sift_up(heap_.size() - 1);
  publish_earliest();
  return entry->heap_index == 0;
}

bool timer_heap::remove(timer_entry* entry) noexcept {
  std::lock_guard<spinlock> hold(lock_);
  if (entry->heap_index == timer_entry::not_queued) return false;
  remove_at(entry->heap_index);
  publish_earliest();
  return true;
}

std::size_t timer_heap::fire_due(std::int64_t now_ns) noexcept {
  if (earliest() > now_ns) return 0;
  std::size_t fired = 0;
  std::lock_guard<spinlock> hold(lock_);
  while (!heap_.empty() && heap_.front()->deadline_ns <= now_ns) {
    timer_entry* e = heap_.front();
    remove_at(0);
    e->fire(e);
    ++fired;
  }
  publish_earliest();
  return fired;
}

}  // namespace weft::detail
