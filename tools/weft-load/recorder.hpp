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
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "report.hpp"

namespace weft::load {

class recorder {
 public:
  /// Room for `threads` recording threads (the runtime's workers); a
  /// further thread that records throws std::logic_error.
  explicit recorder(std::size_t threads);
  ~recorder();
  recorder(const recorder&) = delete;
  recorder& operator=(const recorder&) = delete;

  /// A complete response. From a fiber or thread of the run, never waits.
  void response(std::uint64_t latency_ns, int status, std::uint64_t bytes);
  /// A failed request.
  void error(error_kind kind);
  /// A connection opened.
  void connected();

  /// Adds the counts so far into `r` (requests, bytes, connects, errors,
  /// status, latency). Any thread; exact once the recording fibers have
  /// been joined, approximate before.
  void snapshot(report& r) const;

 private:
  struct slot;
  slot& local();

  const std::uint64_t id_;  ///< unique per recorder, for the thread-local cache
  std::vector<std::unique_ptr<slot>> slots_;
};

}  // namespace weft::load
