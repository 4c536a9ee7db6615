// weft-load: the result of a run (or of several merged), as a table for
// humans and as JSON for machines, and merge() of several. The JSON goes
// through nlohmann-json (ordered_json, so members keep the documented order);
// reading a report checks every member and reports a bad file as
// report_format_error, whatever is wrong with it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.hpp"
#include "timeline.hpp"

namespace weft::load {

/// Why a request failed. Non-2xx responses are not errors: they are counted
/// by status.
enum class error_kind : std::uint8_t {
  connect,        ///< the connection could not be opened (refused, unreachable, timed out)
  timeout,        ///< no complete response within --timeout
  reset,          ///< the peer reset the connection (ECONNRESET, EPIPE)
  closed,         ///< the peer closed the connection before the response was complete
  parse,          ///< the response was not valid HTTP/1.x
  other,          ///< any other system error
  tls_handshake,  ///< the TLS handshake failed (no common protocol, an alert, the peer closed)
  tls_verify,     ///< the server's certificate did not verify (untrusted, expired, wrong name)
  tls,            ///< a TLS error after the handshake (a record that does not decrypt, an alert)
};
inline constexpr std::size_t error_kinds = 9;
/// "connect", "timeout", ..., "tls-handshake": the names used in reports.
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
  /// Requests cancelled in flight by the end of the run, an interrupt or a
  /// stage's ramp-down: neither responses nor errors.
  std::uint64_t cancelled = 0;
  /// The run was interrupted (Ctrl-C): duration_s is the time that ran.
  bool interrupted = false;
  std::array<std::uint64_t, error_kinds> errors{};
  std::map<int, std::uint64_t> status;  ///< responses per HTTP status
  histogram latency;                    ///< of complete responses, in ns
  /// Requests per second: requests / duration_s for one run; after a merge,
  /// the sum of the runs' rates (the runs are taken to be simultaneous).
  double rps = 0;
  /// Second by second (timeline.hpp); empty in reports of older versions.
  std::vector<timeline_second> timeline;

  [[nodiscard]] std::uint64_t error_total() const noexcept;
  /// Errors as a percentage of attempts (requests + errors); 0 when none.
  [[nodiscard]] double error_percent() const noexcept;
};

/// A report that cannot be read back: malformed JSON, not a weft-load
/// report, or a member missing, of the wrong type or inconsistent. The
/// message says which ("histogram.sum: expected a non-negative integer, got
/// -1").
class report_format_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The JSON form (documented in docs/load-testing.md), members in that order.
/// Counts are unsigned 64-bit integers, exact; NaN and infinities, which
/// JSON lacks, are written as null (and refused by from_json).
nlohmann::ordered_json to_json(const report& r);
/// Reads back what to_json wrote (or an older weft-load: the format has not
/// changed). Throws report_format_error naming the member that is missing,
/// of the wrong type (a count that is negative, fractional or beyond 64 bits
/// included) or inconsistent with the rest.
report from_json(const nlohmann::ordered_json& v);

/// to_json as text, as `--json` writes it: indented by two spaces, one
/// member per line, a newline at the end. Never throws for the report's
/// contents (bytes of the target that are not UTF-8 become U+FFFD).
std::string to_json_text(const report& r);
/// Parses `text` (strict RFC 8259, nesting at most 64 deep) and reads it
/// with from_json. Throws report_format_error for malformed JSON (with the
/// line and column) as for a bad report.
report from_json_text(std::string_view text);

/// The end-of-run table, like wrk's.
std::string format_report(const report& r);

/// One report of runs made at the same time (on several machines, say):
/// counts and histograms added (exactly), duration the longest, rps the sum,
/// timelines added second by second (merge_timeline).
/// Throws std::invalid_argument for an empty list.
report merge(const std::vector<report>& parts);

}  // namespace weft::load
