// weft-load: --fail-if conditions ("p99>50ms", "errors>1%", "rps<1000").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "report.hpp"

namespace weft::load {

/// One --fail-if condition: the run fails if `metric op limit` holds.
struct threshold {
  enum class metric { p50, p90, p99, p999, max, mean, errors, rps, requests };
  enum class comparison { greater, greater_equal, less, less_equal };

  metric what = metric::p99;
  comparison op = comparison::greater;
  /// Latencies in ns; errors as a count, or a percentage if `percent`.
  double limit = 0;
  bool percent = false;
  std::string text;  ///< as written, for messages
};

/// Parses METRIC OP VALUE (spaces allowed around OP):
///   p50 p90 p99 p999 max mean  with a duration (50ms, 1.5s, 800us)
///   errors                     with a count (errors>0) or a percentage (errors>1%)
///   rps requests               with a number
/// OP is one of > >= < <=. Throws std::invalid_argument saying what is wrong.
threshold parse_threshold(std::string_view text);

/// If `t` is crossed by `r`, a message such as "p99>50ms crossed: p99 = 73.1ms";
/// otherwise nothing.
std::optional<std::string> check(const threshold& t, const report& r);

}  // namespace weft::load
