// Live-fiber registry. See registry.hpp.
#include "scheduler/registry.hpp"

#include <chrono>
#include <unordered_map>

#include "fiber/fiber.hpp"
#include "platform/asymmetric_fence.hpp"
#include "platform/futex.hpp"

#if defined(__SANITIZE_THREAD__)
#define WEFT_REGISTRY_LOCKED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_REGISTRY_LOCKED 1
#endif
#endif

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

// Whether owners may update without the lock (registry.hpp). Not under
// ThreadSanitizer, which cannot see the ordering membarrier gives.
bool asymmetric_updates() noexcept {
#ifdef WEFT_REGISTRY_LOCKED
  return false;
#else
  return asymmetric_fence_available();
#endif
}

}  // namespace

fiber_registry::fiber_registry(unsigned shards)
    : shards_(std::make_unique<shard[]>(shards)),
      shard_count_(shards),
      asymmetric_(asymmetric_updates()) {}

bool fiber_registry::owner_enter_locked(shard& s) const noexcept {
  // release: as owner_leave's, for the update we did not make.
  if (asymmetric_) s.owner_inside.store(false, std::memory_order_release);
  s.lock.lock();  // held by an inspector until it is done
  return true;
}

void fiber_registry::inspect_begin(shard& s) const noexcept {
  s.lock.lock();
  if (!asymmetric_) return;
  s.inspected.store(true, std::memory_order_relaxed);
  heavy_fence();
  spin_backoff backoff;
  // acquire: pairs with owner_leave's release store.
  while (s.owner_inside.load(std::memory_order_acquire)) backoff.pause();
}

void fiber_registry::inspect_end(shard& s) const noexcept {
  if (asymmetric_) s.inspected.store(false, std::memory_order_release);  // see owner_enter
  s.lock.unlock();  // release: an owner on the slow path sees our updates
}

fiber* fiber_registry::take_ended(shard& s) noexcept {
  // The load spares the RMW when nothing ended elsewhere. seq_cst (a plain
  // load on x86): in the drain, it pairs with the pushers' CAS and load of
  // draining_ (registry.hpp). The exchange pairs with the pushers' CAS,
  // making their records' links visible.
  if (s.ended.load(std::memory_order_seq_cst) == nullptr) return nullptr;
  fiber* list = s.ended.exchange(nullptr, std::memory_order_seq_cst);
  for (fiber* f = list; f; f = f->ended_next) unlink(s, *f);
  return list;
}

void fiber_registry::release_ended(fiber* list) noexcept {
  while (list) {
    fiber* next = list->ended_next;
    release_reference(*list);  // the reference remove() took
    list = next;
  }
}

void fiber_registry::bump_drain_epoch() noexcept {
  drain_epoch_.fetch_add(1, std::memory_order_release);
  futex_wake(drain_epoch_, 1);
}

void fiber_registry::remove_elsewhere(fiber& f) noexcept {
  shard& s = shards_[f.registry_shard];
  // Keeps the record alive while it stays linked; released by whoever
  // unlinks it. relaxed: the caller holds a reference.
  f.refs.fetch_add(1, std::memory_order_relaxed);
  fiber* head = s.ended.load(std::memory_order_relaxed);
  do {
    f.ended_next = head;
    // seq_cst: publishes the record to the taker's exchange, and orders
    // the load of draining_ below against the drain's store (registry.hpp).
  } while (!s.ended.compare_exchange_weak(head, &f, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
  if (draining_.load(std::memory_order_seq_cst)) bump_drain_epoch();
}

void fiber_registry::unlink_ended(unsigned owner) noexcept {
  shard& s = shards_[owner];
  if (s.ended.load(std::memory_order_relaxed) == nullptr) return;
  reap_ended_and_leave(s, owner_enter(s));
}

void fiber_registry::reap_ended_and_leave(shard& s, bool locked) noexcept {
  fiber* ended = take_ended(s);
  // relaxed: ordered by the handshake (or the lock) with the drain's inspection.
  const bool notify = draining_.load(std::memory_order_relaxed);
  owner_leave(s, locked);
  release_ended(ended);
  if (notify) bump_drain_epoch();
}

fiber_info fiber_registry::describe(const fiber& f) {
  fiber_info info;
  info.id = fiber_id(f.id);
  info.name = f.name();
  info.state = public_state(f.state.load(std::memory_order_acquire));
  info.waiting_on = f.waiting_on.load(std::memory_order_relaxed);
  // A joiner running a child inline stays `running`, with its wait reason
  // set (inline_join.hpp): to the reader it waits in the join. A fiber
  // between setting its wait reason and switching away to park is still
  // running: its stack cannot be read yet, and a reader that waits for it
  // to park (tests do) must not see it parked early.
  if (info.state == fiber_state::running && f.hosts_inline_child.load(std::memory_order_relaxed)) {
    info.state = fiber_state::parked;
  }
  info.wait_object = f.wait_object.load(std::memory_order_relaxed);
  std::int64_t since = f.wait_since_ns.load(std::memory_order_relaxed);
  if (since == 0 && info.waiting_on != wait_kind::none) {
    // An unstamped wait (an inline join): stamped now, by the first reader,
    // so that later snapshots show it lasting. Relaxed CAS: it fails if the
    // fiber stamped a newer wait meanwhile, whose time then stands.
    const std::int64_t now = steady_now_ns();
    since = f.wait_since_ns.compare_exchange_strong(since, now, std::memory_order_relaxed) ? now
                                                                                           : since;
  }
  info.waiting_since = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(since));
  info.worker = f.last_worker.load(std::memory_order_relaxed);
  return info;
}

void fiber_registry::resolve_blocked_by(const std::vector<const fiber*>& records,
                                        std::vector<fiber_info>& infos) {
  // A join waits on the joined fiber's record: named by its id when that
  // fiber is among the ones listed. Records are only compared, never read:
  // one that ended since may be freed. The answer may be stale (the wait
  // may have ended meanwhile), as everything in a snapshot.
  std::unordered_map<const void*, fiber_id> ids;
  ids.reserve(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) ids.emplace(records[i], infos[i].id);
  for (fiber_info& info : infos) {
    if (info.waiting_on != wait_kind::join) continue;
    if (const auto found = ids.find(info.wait_object); found != ids.end()) {
      info.blocked_by = found->second;
    }
  }
}

template <class Visit>
void fiber_registry::for_each_linked(Visit visit) const {
  for (unsigned i = 0; i < shard_count_; ++i) {
    shard& s = shards_[i];
    inspect_begin(s);
    fiber* ended = take_ended(s);
    try {
      for (fiber* f = s.head; f; f = f->registry_next) visit(*f);
    } catch (...) {
      inspect_end(s);
      release_ended(ended);
      throw;
    }
    inspect_end(s);
    release_ended(ended);
  }
}

std::vector<fiber_info> fiber_registry::snapshot() const {
  std::vector<fiber_info> out;
  std::vector<const fiber*> records;
  for_each_linked([&](const fiber& f) {
    out.push_back(describe(f));
    records.push_back(&f);
  });
  resolve_blocked_by(records, out);
  return out;
}

std::vector<fiber*> fiber_registry::retain_all() const {
  std::vector<fiber*> out;
  try {
    for_each_linked([&out](fiber& f) {
      out.push_back(&f);
      // A linked fiber still holds its own reference, which is dropped only
      // after it is unlinked, and the shard's owner cannot unlink it while
      // we inspect: the count is at least 1 and cannot reach 0 meanwhile.
      // relaxed: the reference itself orders nothing.
      f.refs.fetch_add(1, std::memory_order_relaxed);
    });
  } catch (...) {
    for (fiber* f : out) release_reference(*f);
    throw;
  }
  return out;
}

bool fiber_registry::empty() noexcept {
  for (unsigned i = 0; i < shard_count_; ++i) {
    shard& s = shards_[i];
    inspect_begin(s);
    fiber* ended = take_ended(s);
    const bool shard_empty = s.head == nullptr;
    inspect_end(s);
    release_ended(ended);
    if (!shard_empty) return false;
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
