#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace weft::load {

namespace {
using L = histogram_layout;
constexpr std::uint64_t exact_limit = std::uint64_t{1} << L::exact_bits;
constexpr std::uint64_t sub_count = std::uint64_t{1} << L::sub_bits;
}  // namespace

std::size_t histogram_layout::index_of(std::uint64_t ns) noexcept {
  if (ns < exact_limit) return static_cast<std::size_t>(ns);
  const unsigned top = static_cast<unsigned>(std::bit_width(ns)) - 1;  // 2^top <= ns
  if (top >= top_bits) return buckets - 1;
  // Keep the leading bit and the sub_bits below it: a value in [64, 128).
  const unsigned shift = top - sub_bits;
  const std::uint64_t sub = (ns >> shift) - sub_count;
  return static_cast<std::size_t>(exact_limit + (top - exact_bits) * sub_count + sub);
}

std::uint64_t histogram_layout::lower_bound(std::size_t i) noexcept {
  if (i < exact_limit) return i;
  const std::uint64_t j = i - exact_limit;
  const unsigned top = exact_bits + static_cast<unsigned>(j / sub_count);
  return (sub_count + j % sub_count) << (top - sub_bits);
}

std::uint64_t histogram_layout::width(std::size_t i) noexcept {
  if (i < exact_limit) return 1;
  const unsigned top = exact_bits + static_cast<unsigned>((i - exact_limit) / sub_count);
  return std::uint64_t{1} << (top - sub_bits);
}

void histogram::record_n(std::uint64_t ns, std::uint64_t n) noexcept {
  if (n == 0) return;
  counts_[L::index_of(ns)] += n;
  count_ += n;
  sum_ += ns * n;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
}

void histogram::merge(const histogram& other) noexcept {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

double histogram::mean() const noexcept {
  return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0;
}

double histogram::quantile(double q) const noexcept {
  if (count_ == 0) return 0;
  if (q >= 1) return static_cast<double>(max_);
  const double wanted = std::ceil(std::max(q, 0.0) * static_cast<double>(count_));
  const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const double mid =
          static_cast<double>(L::lower_bound(i)) + static_cast<double>(L::width(i) - 1) / 2.0;
      return std::clamp(mid, static_cast<double>(min_), static_cast<double>(max_));
    }
  }
  return static_cast<double>(max_);
}

bool histogram::assign(const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets,
                       std::uint64_t sum, std::uint64_t min, std::uint64_t max) {
  std::vector<std::uint64_t> counts(L::buckets, 0);
  std::uint64_t count = 0;
  for (const auto& [index, n] : buckets) {
    if (index >= L::buckets) return false;
    counts[index] += n;
    count += n;
  }
  if (count > 0 && (min > max || L::index_of(min) > L::index_of(max))) return false;
  counts_ = std::move(counts);
  count_ = count;
  sum_ = sum;
  min_ = count ? min : UINT64_MAX;
  max_ = count ? max : 0;
  return true;
}

void histogram::assign_bounded(const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets,
                               std::uint64_t sum) {
  std::vector<std::pair<std::size_t, std::uint64_t>> kept;
  for (const auto& b : buckets) {
    if (b.first < L::buckets && b.second != 0) kept.push_back(b);
  }
  if (kept.empty()) {
    *this = histogram();
    return;
  }
  const auto [lo, hi] = std::minmax_element(
      kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  assign(kept, sum, L::lower_bound(lo->first), L::lower_bound(hi->first) + L::width(hi->first) - 1);
}

}  // namespace weft::load
