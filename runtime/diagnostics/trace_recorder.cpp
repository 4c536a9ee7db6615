// weft::trace and the scheduler's trace hooks. See trace_recorder.hpp.
#include "diagnostics/trace_recorder.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "diagnostics/fiber_dump.hpp"
#include "fiber/fiber.hpp"
#include "platform/spinlock.hpp"
#include "weft/trace.hpp"

namespace weft::detail::tracing {

std::atomic<bool> recording{false};

namespace {

enum class event_kind : std::uint8_t { run, spawn, park, wake, steal, flow_start, flow_end };

struct event {
  event_kind kind;
  wait_kind why;         // park
  std::uint32_t worker;  // run: the worker; steal: the victim
  std::int64_t ts_ns;    // steady clock
  std::int64_t dur_ns;   // run
  std::uint64_t fiber;   // the fiber concerned
  std::uint64_t flow;    // flow_start, flow_end
};

// One thread's events. `events` and `names` are guarded by `lock`, which
// only the owner thread takes while recording and stop() takes to collect;
// the open slice is the owner's alone.
struct buffer {
  spinlock lock;
  long tid = 0;
  std::string thread_name;
  std::deque<event> events;  // chunks: growing never copies what is recorded
  std::vector<std::pair<std::uint64_t, std::string>> names;
  std::unordered_set<std::uint64_t> named;
  std::uint64_t open_fiber = 0;  // owner only
  std::uint32_t open_worker = 0;
  std::int64_t open_since = 0;
};

struct recorder {
  std::mutex lock;  // buffers, file, path
  std::vector<std::shared_ptr<buffer>> buffers;
  std::ofstream file;
  std::string path;
  std::atomic<std::uint64_t> next_flow{1};
};

recorder& the_recorder() {
  static auto* r = new recorder;  // never destroyed: threads may record during exit
  return *r;
}

buffer& local_buffer() {
  thread_local std::shared_ptr<buffer> mine;
  if (!mine) {
    auto b = std::make_shared<buffer>();
    b->tid = static_cast<long>(gettid());
    char name[32] = {};
    if (pthread_getname_np(pthread_self(), name, sizeof name) == 0) b->thread_name = name;
    recorder& r = the_recorder();
    const std::lock_guard guard(r.lock);
    r.buffers.push_back(b);
    mine = std::move(b);
  }
  return *mine;
}

void append(buffer& b, const event& e) {
  const std::lock_guard guard(b.lock);
  b.events.push_back(e);
}

// Hooks are noexcept: an event that cannot be stored is dropped.
template <class Record>
void guarded(Record record) noexcept {
  try {
    record();
  } catch (const std::exception&) {
    // Out of memory, or the list's mutex failed: the event is dropped.
  }
}

std::uint64_t new_flow() noexcept {
  return the_recorder().next_flow.fetch_add(1, std::memory_order_relaxed);
}

void write_escaped(std::ostream& out, const std::string& text) {
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out << '\\' << c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char code[8];
      std::snprintf(code, sizeof code, "\\u%04x", c);
      out << code;
    } else {
      out << c;
    }
  }
}

void write_event(std::ostream& out, const buffer& b, const event& e, std::int64_t epoch_ns,
                 const std::string& fiber_name) {
  const auto us = [epoch_ns](std::int64_t ns) { return static_cast<double>(ns - epoch_ns) / 1e3; };
  out << "{\"pid\":" << getpid() << ",\"tid\":" << b.tid << ",\"ts\":" << us(e.ts_ns);
  switch (e.kind) {
    case event_kind::run:
      out << ",\"ph\":\"X\",\"cat\":\"fiber\",\"name\":\"";
      write_escaped(out, fiber_name);
      out << "\",\"dur\":" << static_cast<double>(e.dur_ns) / 1e3
          << ",\"args\":{\"fiber\":" << e.fiber << ",\"worker\":" << e.worker << "}}";
      return;
    case event_kind::flow_start:
    case event_kind::flow_end:
      out << ",\"ph\":\"" << (e.kind == event_kind::flow_start ? "s" : "f")
          << "\",\"bp\":\"e\",\"cat\":\"flow\",\"name\":\"causes\",\"id\":" << e.flow << '}';
      return;
    default:
      break;
  }
  const char* name = e.kind == event_kind::spawn  ? "spawn"
                     : e.kind == event_kind::park ? "park"
                     : e.kind == event_kind::wake ? "wake"
                                                  : "steal";
  out << ",\"ph\":\"i\",\"s\":\"t\",\"cat\":\"sched\",\"name\":\"" << name
      << "\",\"args\":{\"fiber\":" << e.fiber;
  if (e.kind == event_kind::park) out << ",\"reason\":\"" << wait_kind_name(e.why) << '"';
  if (e.kind == event_kind::steal) out << ",\"from_worker\":" << e.worker;
  out << "}}";
}

}  // namespace

void run_begin(fiber& f, unsigned worker) noexcept {
  guarded([&] {
    buffer& b = local_buffer();
    const std::int64_t now = steady_now_ns();
    const std::lock_guard guard(b.lock);
    b.open_fiber = f.id;
    b.open_worker = worker;
    b.open_since = now;
    if (f.trace_flow != 0) {
      b.events.push_back(event{event_kind::flow_end, wait_kind::none, 0, now, 0, f.id,
                               std::exchange(f.trace_flow, 0)});
    }
    if (!f.name().empty() && b.named.insert(f.id).second) b.names.emplace_back(f.id, f.name());
  });
}

void run_end(const fiber& f) noexcept {
  guarded([&] {
    buffer& b = local_buffer();
    if (b.open_fiber != f.id) return;  // began before the trace did
    const std::int64_t now = steady_now_ns();
    append(b, event{event_kind::run, wait_kind::none, b.open_worker, b.open_since,
                    now - b.open_since, f.id, 0});
    b.open_fiber = 0;
  });
}

namespace {

// A spawn or a wake: the instant, and the start of the arrow to the run it
// causes (run_begin draws its end).
void made_runnable(fiber& f, event_kind kind) noexcept {
  guarded([&] {
    buffer& b = local_buffer();
    const std::int64_t now = steady_now_ns();
    f.trace_flow = new_flow();
    append(b, event{kind, wait_kind::none, 0, now, 0, f.id, 0});
    append(b, event{event_kind::flow_start, wait_kind::none, 0, now, 0, f.id, f.trace_flow});
  });
}

}  // namespace

void spawned(fiber& child) noexcept { made_runnable(child, event_kind::spawn); }

void parked(const fiber& f, wait_kind why) noexcept {
  guarded([&] {
    append(local_buffer(), event{event_kind::park, why, 0, steady_now_ns(), 0, f.id, 0});
  });
}

void woken(fiber& f) noexcept { made_runnable(f, event_kind::wake); }

void stolen(const fiber& f, unsigned victim) noexcept {
  guarded([&] {
    append(local_buffer(),
           event{event_kind::steal, wait_kind::none, victim, steady_now_ns(), 0, f.id, 0});
  });
}

}  // namespace weft::detail::tracing

namespace weft::trace {

using detail::tracing::recording;

void start(const std::string& path) {
  auto& r = detail::tracing::the_recorder();
  const std::lock_guard guard(r.lock);
  if (recording.load(std::memory_order_relaxed)) {
    throw std::runtime_error("weft::trace::start: already recording to " + r.path);
  }
  r.file.open(path, std::ios::out | std::ios::trunc);
  if (!r.file) throw std::runtime_error("weft::trace::start: cannot write " + path);
  r.path = path;
  for (const auto& b : r.buffers) {
    const std::lock_guard buffer_guard(b->lock);
    b->events.clear();
  }
  recording.store(true, std::memory_order_relaxed);
}

void stop() {
  auto& r = detail::tracing::the_recorder();
  const std::lock_guard guard(r.lock);
  if (!recording.exchange(false, std::memory_order_relaxed)) return;
  // Collected under each buffer's lock; an event that raced with the flag
  // may still land in a buffer afterwards: start() clears them.
  struct collected {
    const detail::tracing::buffer* b;
    std::deque<detail::tracing::event> events;
    std::vector<std::pair<std::uint64_t, std::string>> names;
  };
  std::vector<collected> all;
  for (const auto& b : r.buffers) {
    const std::lock_guard buffer_guard(b->lock);
    all.push_back({b.get(), std::move(b->events), b->names});
    b->events.clear();
  }
  std::int64_t epoch = std::numeric_limits<std::int64_t>::max();
  std::unordered_map<std::uint64_t, std::string> names;
  for (const auto& c : all) {
    for (const auto& e : c.events) epoch = std::min(epoch, e.ts_ns);
    for (const auto& [id, name] : c.names) names.emplace(id, name);
  }
  std::ostream& out = r.file;
  out << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  bool first = true;
  const auto separator = [&] {
    if (!first) out << ",\n";
    first = false;
  };
  for (const auto& c : all) {
    if (c.events.empty()) continue;
    separator();
    out << "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":" << getpid() << ",\"tid\":" << c.b->tid
        << ",\"args\":{\"name\":\"";
    detail::tracing::write_escaped(out, c.b->thread_name);
    out << "\"}}";
    for (const auto& e : c.events) {
      separator();
      std::string name;
      if (e.kind == detail::tracing::event_kind::run) {
        const auto found = names.find(e.fiber);
        name = found != names.end() ? found->second : "fiber " + std::to_string(e.fiber);
      }
      detail::tracing::write_event(out, *c.b, e, epoch, name);
    }
  }
  out << "\n]}\n";
  out.flush();
  const bool written = static_cast<bool>(out);
  r.file.close();
  if (!written) throw std::runtime_error("weft::trace::stop: writing " + r.path + " failed");
}

bool active() noexcept { return recording.load(std::memory_order_relaxed); }

}  // namespace weft::trace
