// weft-load: durations as written on the command line ("10s", "2m",
// "500ms", "250us", "1.5s") and as printed in reports.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace weft::load {

/// Parses a non-negative decimal number followed by a unit: us, ms, s, m or
/// h ("10s", "1.5m", "250us"). A unit is required: "10" alone is rejected
/// rather than guessed. Throws std::invalid_argument with a message that
/// says what is wrong (without naming an option: the caller adds that).
std::chrono::nanoseconds parse_duration(std::string_view text);

/// A latency or duration for humans, three significant digits and the
/// largest fitting unit: "812ns", "31.2us", "1.25ms", "2.00s".
std::string format_duration(std::chrono::nanoseconds d);

/// As format_duration, from a (possibly fractional) count of nanoseconds.
std::string format_nanoseconds(double ns);

}  // namespace weft::load
