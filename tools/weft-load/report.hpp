// weft-load: the result of a run (or of several merged), as a table for
// humans and as JSON for machines, and merge() of several.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.hpp"
#include "json.hpp"

namespace weft::load {

/// Why a request failed. Non-2xx responses are not errors: they are counted
/// by status.
enum class error_kind : std::uint8_t {
  connect,  ///< the connection could not be opened (refused, unreachable, timed out)
  timeout,  ///< no complete response within --timeout
  reset,    ///< the peer reset the connection (ECONNRESET, EPIPE)
  closed,   ///< the peer closed the connection before the response was complete
  parse,    ///< the response was not valid HTTP/1.x
  other,    ///< any other system error
};
inline constexpr std::size_t error_kinds = 6;
/// "connect", "timeout", ...: the names used in reports.
const char* error_name(error_kind kind) noexcept;

/// Everything a run measured.
struct report {
  std::string target;  ///< the URL loaded
  std::string model;   ///< "closed", "open", or "mixed" after merging both
  std::uint64_t connections = 0;
  double rate = 0;  ///< open model: requests/s asked for; 0 for closed
  std::uint64_t workers = 0;
  double duration_s = 0;       ///< the measured window
  std::uint64_t requests = 0;  ///< complete responses, whatever their status
  std::uint64_t bytes = 0;     ///< response bytes read
  std::uint64_t connects = 0;  ///< connections opened
  std::array<std::uint64_t, error_kinds> errors{};
  std::map<int, std::uint64_t> status;  ///< responses per HTTP status
  histogram latency;                    ///< of complete responses, in ns
  /// Requests per second: requests / duration_s for one run; after a merge,
  /// the sum of the runs' rates (the runs are taken to be simultaneous).
  double rps = 0;

  [[nodiscard]] std::uint64_t error_total() const noexcept;
  /// Errors as a percentage of attempts (requests + errors); 0 when none.
  [[nodiscard]] double error_percent() const noexcept;
};

/// The JSON form (documented in docs/load-testing.md).
json::value to_json(const report& r);
/// Reads back what to_json wrote. Throws json::error naming what is missing
/// or inconsistent.
report from_json(const json::value& v);

/// The end-of-run table, like wrk's.
std::string format_report(const report& r);

/// One report of runs made at the same time (on several machines, say):
/// counts and histograms added (exactly), duration the longest, rps the sum.
/// Throws std::invalid_argument for an empty list.
report merge(const std::vector<report>& parts);

}  // namespace weft::load
