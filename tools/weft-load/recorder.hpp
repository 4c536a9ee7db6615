// weft-load: where virtual users record what happened, one slot per worker
// thread.
//
// Every response and error is recorded by the fiber that saw it, into the
// slot of the worker thread it runs on. Fibers are cooperative and record()
// never waits, so between finding the slot and updating it no other fiber
// runs on that thread: each slot has exactly one writer at a time, and
// updates are plain relaxed load + store (no read-modify-write, no lock, no
// cache line shared with another worker). The slots are atomics only so
// that the progress line may read them while the run goes on (relaxed:
// counts read mid-run are a moment's approximation, which is all a progress
// line needs). After the users have been joined (join synchronizes with
// their end), snapshot() is exact.
//
// One slot per worker rather than one histogram per virtual user keeps
// memory at ~21 KiB per worker whatever the number of users (10,000 users
// would otherwise take 160 MiB of histograms).
//
// The timeline (timeline.hpp): each slot also counts its responses and
// errors per second of the run, and keeps the latencies of the second it
// is in as a dense histogram (16 KiB, reused), stored as its non-empty
// buckets once the slot moves on to the next second: a few KiB per second
// per worker. These are plain data, written by the slot's one writer and
// read only after the join (timeline()), never mid-run.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "report.hpp"
#include "timeline.hpp"

namespace weft::load {

class recorder {
 public:
  /// Room for `threads` recording threads (the runtime's workers); a
  /// further thread that records throws std::logic_error.
  explicit recorder(std::size_t threads);
  ~recorder();
  recorder(const recorder&) = delete;
  recorder& operator=(const recorder&) = delete;

  using clock = std::chrono::steady_clock;

  /// Where second 0 of the timeline begins. Before anything is recorded
  /// (and published to the recording fibers by what starts them).
  void begin(clock::time_point start) noexcept { start_ = start; }
  /// A complete response, at `at`. From a fiber or thread of the run,
  /// never waits.
  void response(std::uint64_t latency_ns, int status, std::uint64_t bytes, clock::time_point at);
  /// A failed request, at `at`.
  void error(error_kind kind, clock::time_point at);
  /// A connection opened.
  void connected();
  /// A request cancelled in flight (the run ended, was interrupted, or
  /// the stages took its user out): neither a response nor an error.
  void cancelled();

  /// Adds the counts so far into `r` (requests, bytes, connects, errors,
  /// status, latency). Any thread; exact once the recording fibers have
  /// been joined, approximate before.
  void snapshot(report& r) const;

  /// The seconds recorded, at least `seconds` of them (users and rate left
  /// 0: the run's plan fills them in). Only once the recording fibers have
  /// been joined.
  [[nodiscard]] std::vector<timeline_second> timeline(std::size_t seconds) const;

 private:
  struct slot;
  slot& local();
  /// The slot's record of the second `at` falls in.
  struct second_record;
  second_record& second_of(slot& s, clock::time_point at);

  const std::uint64_t id_;  ///< unique per recorder, for the thread-local cache
  clock::time_point start_{};
  std::vector<std::unique_ptr<slot>> slots_;
};

}  // namespace weft::load
