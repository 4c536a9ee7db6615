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

struct recorder::second_record {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  sparse_buckets latency;  ///< stored once the slot has moved past this second
};

struct recorder::slot {
  counter owner{0};  ///< this_thread_no() of the writer; 0: free
  counter requests{0};
  counter bytes{0};
  counter connects{0};
  counter cancelled{0};
  std::array<counter, error_kinds> errors{};
  counter sum{0};
  counter min{UINT64_MAX};
  counter max{0};
  std::unique_ptr<counter[]> status = std::make_unique<counter[]>(status_codes);
  std::unique_ptr<counter[]> buckets = std::make_unique<counter[]>(histogram_layout::buckets);
  // The timeline (plain: see recorder.hpp).
  std::vector<second_record> seconds;
  std::vector<std::uint64_t> open_counts;  ///< latencies of second `open`, dense
  std::size_t open = 0;                    ///< the second open_counts holds

  // Stores the open second's latencies and opens second `t`.
  void move_to(std::size_t t) {
    if (!open_counts.empty()) {
      seconds[open].latency = sparse_of(open_counts);
      std::fill(open_counts.begin(), open_counts.end(), 0);
    } else {
      open_counts.assign(histogram_layout::buckets, 0);
    }
    open = t;
  }
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

recorder::second_record& recorder::second_of(slot& s, clock::time_point at) {
  const auto t =
      at > start_ ? static_cast<std::size_t>((at - start_) / std::chrono::seconds(1)) : 0;
  if (t >= s.seconds.size()) s.seconds.resize(t + 1);
  return s.seconds[t];
}

void recorder::response(std::uint64_t latency_ns, int status, std::uint64_t bytes,
                        clock::time_point at) {
  slot& s = local();
  second_record& sec = second_of(s, at);
  ++sec.requests;
  const auto t = static_cast<std::size_t>(&sec - s.seconds.data());
  const std::size_t bucket = histogram_layout::index_of(latency_ns);
  if (s.open_counts.empty() || t > s.open) s.move_to(t);
  if (t == s.open) {
    ++s.open_counts[bucket];
  } else {  // an earlier second (the clocks of two fibers crossed): straight into it
    auto it = std::lower_bound(sec.latency.begin(), sec.latency.end(),
                               std::pair<std::size_t, std::uint64_t>(bucket, 0));
    if (it == sec.latency.end() || it->first != bucket) it = sec.latency.emplace(it, bucket, 0);
    ++it->second;
  }
  add(s.requests, 1);
  add(s.bytes, bytes);
  if (status >= min_status && status < min_status + static_cast<int>(status_codes)) {
    add(s.status[static_cast<std::size_t>(status - min_status)], 1);
  }
  add(s.buckets[bucket], 1);
  add(s.sum, latency_ns);
  if (latency_ns < get(s.min)) s.min.store(latency_ns, std::memory_order_relaxed);
  if (latency_ns > get(s.max)) s.max.store(latency_ns, std::memory_order_relaxed);
}

void recorder::error(error_kind kind, clock::time_point at) {
  slot& s = local();
  add(s.errors[static_cast<std::size_t>(kind)], 1);
  ++second_of(s, at).errors;
}

void recorder::connected() { add(local().connects, 1); }

void recorder::cancelled() { add(local().cancelled, 1); }

void recorder::snapshot(report& r) const {
  std::vector<std::uint64_t> counts(histogram_layout::buckets, 0);
  std::uint64_t sum = 0;
  std::uint64_t min = UINT64_MAX;
  std::uint64_t max = 0;
  for (const auto& s : slots_) {
    r.requests += get(s->requests);
    r.bytes += get(s->bytes);
    r.connects += get(s->connects);
    r.cancelled += get(s->cancelled);
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
  if (!h.assign(buckets, sum, min, max)) {
    // Read mid-run, min and max may lag the buckets: bound them by the
    // buckets themselves instead (only the progress line sees this).
    h.assign_bounded(buckets, sum);
  }
  r.latency.merge(h);
}

std::vector<timeline_second> recorder::timeline(std::size_t seconds) const {
  std::vector<timeline_second> out(seconds);
  for (std::size_t t = 0; t < out.size(); ++t) out[t].t = t;
  for (const auto& s : slots_) {
    std::vector<timeline_second> part(s->seconds.size());
    for (std::size_t t = 0; t < part.size(); ++t) {
      part[t].t = t;
      part[t].requests = s->seconds[t].requests;
      part[t].errors = s->seconds[t].errors;
      part[t].latency = !s->open_counts.empty() && t == s->open ? sparse_of(s->open_counts)
                                                                : s->seconds[t].latency;
    }
    merge_timeline(out, part);
  }
  return out;
}

}  // namespace weft::load
