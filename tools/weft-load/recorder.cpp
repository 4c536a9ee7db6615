#include "recorder.hpp"

#include <algorithm>
#include <stdexcept>

namespace weft::load {

namespace {

using counter = std::atomic<std::uint64_t>;

// The slot's only writer adds: load + store, no locked instruction needed.
void add(counter& c, std::uint64_t n) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

std::uint64_t get(const counter& c) { return c.load(std::memory_order_relaxed); }

constexpr int min_status = 100;
constexpr std::size_t status_codes = 500;  // 100..599, the parser rejects the rest

std::atomic<std::uint64_t> next_recorder_id{1};
std::atomic<std::uint64_t> next_thread_no{1};

// A number per thread, never reused (std::thread::id may be).
std::uint64_t this_thread_no() {
  thread_local const std::uint64_t no = next_thread_no.fetch_add(1, std::memory_order_relaxed);
  return no;
}

}  // namespace

struct recorder::slot {
  counter owner{0};  ///< this_thread_no() of the writer; 0: free
  counter requests{0};
  counter bytes{0};
  counter connects{0};
  std::array<counter, error_kinds> errors{};
  counter sum{0};
  counter min{UINT64_MAX};
  counter max{0};
  std::unique_ptr<counter[]> status = std::make_unique<counter[]>(status_codes);
  std::unique_ptr<counter[]> buckets = std::make_unique<counter[]>(histogram_layout::buckets);
};

recorder::recorder(std::size_t threads)
    : id_(next_recorder_id.fetch_add(1, std::memory_order_relaxed)) {
  slots_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) slots_.push_back(std::make_unique<slot>());
}

recorder::~recorder() = default;

recorder::slot& recorder::local() {
  struct cache_entry {
    std::uint64_t recorder = 0;
    slot* s = nullptr;
  };
  thread_local cache_entry cache;
  if (cache.recorder == id_) return *cache.s;
  const std::uint64_t me = this_thread_no();
  slot* found = nullptr;
  for (auto& s : slots_) {
    if (get(s->owner) == me) found = s.get();
  }
  for (auto it = slots_.begin(); !found && it != slots_.end(); ++it) {
    std::uint64_t free = 0;
    // Claims the slot; relaxed: the slot's counters need no ordering with
    // the claim (each is read relaxed, and exactly after the final join).
    if ((*it)->owner.compare_exchange_strong(free, me, std::memory_order_relaxed))
      found = it->get();
  }
  if (!found) throw std::logic_error("weft-load: more recording threads than recorder slots");
  cache = {id_, found};
  return *found;
}

void recorder::response(std::uint64_t latency_ns, int status, std::uint64_t bytes) {
  slot& s = local();
  add(s.requests, 1);
  add(s.bytes, bytes);
  if (status >= min_status && status < min_status + static_cast<int>(status_codes)) {
    add(s.status[static_cast<std::size_t>(status - min_status)], 1);
  }
  add(s.buckets[histogram_layout::index_of(latency_ns)], 1);
  add(s.sum, latency_ns);
  if (latency_ns < get(s.min)) s.min.store(latency_ns, std::memory_order_relaxed);
  if (latency_ns > get(s.max)) s.max.store(latency_ns, std::memory_order_relaxed);
}

void recorder::error(error_kind kind) { add(local().errors[static_cast<std::size_t>(kind)], 1); }

void recorder::connected() { add(local().connects, 1); }

void recorder::snapshot(report& r) const {
  std::vector<std::uint64_t> counts(histogram_layout::buckets, 0);
  std::uint64_t sum = 0;
  std::uint64_t min = UINT64_MAX;
  std::uint64_t max = 0;
  for (const auto& s : slots_) {
    r.requests += get(s->requests);
    r.bytes += get(s->bytes);
    r.connects += get(s->connects);
    for (std::size_t k = 0; k < error_kinds; ++k) r.errors[k] += get(s->errors[k]);
    for (std::size_t i = 0; i < status_codes; ++i) {
      if (const std::uint64_t n = get(s->status[i]))
        r.status[min_status + static_cast<int>(i)] += n;
    }
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += get(s->buckets[i]);
    sum += get(s->sum);
    min = std::min(min, get(s->min));
    max = std::max(max, get(s->max));
  }
  std::vector<std::pair<std::size_t, std::uint64_t>> buckets;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i]) buckets.emplace_back(i, counts[i]);
  }
  histogram h;
  if (!h.assign(buckets, sum, min, max) && !buckets.empty()) {
    // Read mid-run, min and max may lag the buckets: bound them by the
    // buckets themselves instead (only the progress line sees this).
    const std::size_t lo = buckets.front().first;
    const std::size_t hi = buckets.back().first;
    h.assign(buckets, sum, histogram_layout::lower_bound(lo),
             histogram_layout::lower_bound(hi) + histogram_layout::width(hi) - 1);
  }
  r.latency.merge(h);
}

}  // namespace weft::load
