// weft-load: the latency histogram.
//
// HDR-style log-linear buckets with one fixed layout, so that histograms of
// different runs (and machines) merge exactly by adding counts:
//
//   - values are nanoseconds;
//   - below 2^7 = 128 ns every value has its own bucket (exact);
//   - each power of two from 2^7 up is split into 64 equal buckets, so a
//     bucket is at most 1/64 of its lower bound wide and its midpoint is
//     within 0.8% of any value in it;
//   - the last bucket ends at 2^37 ns (137 s, beyond the 100 s any request
//     timeout should need); longer values land there, the exact maximum is
//     kept apart.
//
// 128 + 30 * 64 = 2048 buckets of 64-bit counts: 16 KiB per histogram,
// whatever the number of samples. Count, sum, minimum and maximum are kept
// exactly, so the mean is exact and merge(A, B) equals the histogram of A's
// and B's samples together, bit for bit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace weft::load {

/// The bucket layout, shared by histogram and the live recorder.
struct histogram_layout {
  static constexpr unsigned exact_bits = 7;  ///< values below 2^7 are exact
  static constexpr unsigned sub_bits = 6;    ///< 2^6 buckets per power of two
  static constexpr unsigned top_bits = 37;   ///< the last bucket ends at 2^37 ns
  static constexpr std::size_t buckets =
      (std::size_t{1} << exact_bits) + (top_bits - exact_bits) * (std::size_t{1} << sub_bits);

  /// The bucket holding `ns` (values past the top land in the last bucket).
  static std::size_t index_of(std::uint64_t ns) noexcept;
  /// The smallest value of bucket `i`.
  static std::uint64_t lower_bound(std::size_t i) noexcept;
  /// How many values bucket `i` holds.
  static std::uint64_t width(std::size_t i) noexcept;
};

/// A latency histogram (see the file comment). Plain data: one owner at a
/// time; merge histograms from several owners with merge().
class histogram {
 public:
  histogram() : counts_(histogram_layout::buckets, 0) {}

  /// Adds one sample of `ns` nanoseconds.
  void record(std::uint64_t ns) noexcept { record_n(ns, 1); }
  /// Adds `n` samples of `ns` nanoseconds.
  void record_n(std::uint64_t ns, std::uint64_t n) noexcept;
  /// Adds every sample of `other` (exact).
  void merge(const histogram& other) noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t sum() const noexcept { return sum_; }  ///< of all samples, ns
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept;
  /// The value at quantile `q` in [0, 1] (nearest rank: the smallest sample
  /// with at least q * count samples at or below it), as its bucket's
  /// midpoint clamped to [min, max]: within 0.8% of the exact value. 0 when
  /// empty; q >= 1 gives max().
  [[nodiscard]] double quantile(double q) const noexcept;

  /// Bucket counts, histogram_layout::buckets of them.
  [[nodiscard]] const std::vector<std::uint64_t>& counts() const noexcept { return counts_; }

  /// Rebuilds a histogram from its parts (as read back from a report).
  /// Returns false, leaving *this unchanged, if they are inconsistent
  /// (count not the sum of the buckets, an index out of range, min > max).
  bool assign(const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets, std::uint64_t sum,
              std::uint64_t min, std::uint64_t max);

  /// As assign, for buckets kept without their minimum and maximum (or
  /// read while they lag, mid-run): those are taken as the bounds of the
  /// lowest and highest non-empty buckets. Indices out of range are
  /// dropped.
  void assign_bounded(const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets,
                      std::uint64_t sum);

  friend bool operator==(const histogram&, const histogram&) = default;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;  ///< UINT64_MAX while empty
  std::uint64_t max_ = 0;
};

}  // namespace weft::load
