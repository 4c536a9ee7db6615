// weft-load: the per-second timeline of a run, in the JSON report and the
// HTML report. Second t (0, 1, ...) covers [t, t + 1) seconds after the
// start of the window (the last one may be partial); it counts the
// responses and errors recorded then, keeps their latencies as a sparse
// histogram of the report's bucket layout, and says how many users, or what
// rate, the run's plan had in force at its middle.
//
// Because each second keeps its histogram (only the non-empty buckets),
// merging the timelines of runs made together (`weft-load merge`, with
// --start-at aligning their starts) is exact: counts add, histograms add,
// and the merged p50/p99 of a second are those of all its requests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <utility>
#include <vector>

#include "histogram.hpp"

namespace weft::load {

/// A histogram as its non-empty buckets, [index, count], by index.
using sparse_buckets = std::vector<std::pair<std::size_t, std::uint64_t>>;

/// The non-empty buckets of `counts` (histogram_layout::buckets of them).
sparse_buckets sparse_of(const std::vector<std::uint64_t>& counts);

/// One second of a run.
struct timeline_second {
  std::uint64_t t = 0;  ///< seconds since the start
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  double users = 0;        ///< users in force (the open model: the users carrying the rate)
  double rate = 0;         ///< open model: requests/s asked; 0 in the closed model
  sparse_buckets latency;  ///< of this second's responses, ns, the report's layout

  /// The latency at quantile q (as histogram::quantile, within a bucket's
  /// width); 0 when the second had no response.
  [[nodiscard]] double quantile(double q) const;
  friend bool operator==(const timeline_second&, const timeline_second&) = default;
};

/// Adds the seconds of `part` (a run made at the same time) into `into`,
/// second by second: counts, users, rates and histograms added; the longer
/// one sets the length.
void merge_timeline(std::vector<timeline_second>& into, const std::vector<timeline_second>& part);

/// The JSON form: an array of {"t", "requests", "errors", "p50_us",
/// "p99_us", "users", "rate", "buckets"} (p50_us and p99_us derived; the
/// report reads the rest back, see report.cpp).
nlohmann::ordered_json timeline_to_json(const std::vector<timeline_second>& tl);

}  // namespace weft::load
