#include "duration.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace weft::load {

std::chrono::nanoseconds parse_duration(std::string_view text) {
  std::size_t split = 0;
  while (split < text.size() &&
         ((text[split] >= '0' && text[split] <= '9') || text[split] == '.')) {
    ++split;
  }
  const std::string_view number = text.substr(0, split);
  const std::string_view unit = text.substr(split);
  if (number.empty()) {
    throw std::invalid_argument("'" + std::string(text) +
                                "' is not a duration (expected e.g. 10s, 2m, 500ms, 250us)");
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size()) {
    throw std::invalid_argument("'" + std::string(text) + "' is not a duration (bad number)");
  }
  double unit_ns = 0;
  if (unit == "us") {
    unit_ns = 1e3;
  } else if (unit == "ms") {
    unit_ns = 1e6;
  } else if (unit == "s") {
    unit_ns = 1e9;
  } else if (unit == "m") {
    unit_ns = 60e9;
  } else if (unit == "h") {
    unit_ns = 3600e9;
  } else if (unit.empty()) {
    throw std::invalid_argument("'" + std::string(text) +
                                "' has no unit (use us, ms, s, m or h: e.g. 10s)");
  } else {
    throw std::invalid_argument("'" + std::string(text) + "' has an unknown unit '" +
                                std::string(unit) + "' (use us, ms, s, m or h)");
  }
  const double ns = value * unit_ns;
  // A year is far beyond any load test; the bound keeps the conversion exact.
  constexpr double year_ns = 365.0 * 24 * 3600e9;
  if (!std::isfinite(ns) || ns > year_ns) {
    throw std::invalid_argument("'" + std::string(text) + "' is too long");
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
}

std::string format_nanoseconds(double ns) {
  struct unit {
    double scale;
    const char* name;
  };
  static constexpr unit units[] = {
      {3600e9, "h"}, {60e9, "m"}, {1e9, "s"}, {1e6, "ms"}, {1e3, "us"}};
  const char* name = "ns";
  double v = ns;
  for (const unit& u : units) {
    // Minutes and hours only from 2 of them up: "90.0s" reads better than "1.50m".
    const double from = u.scale >= 60e9 ? 2 * u.scale : u.scale;
    if (ns >= from) {
      v = ns / u.scale;
      name = u.name;
      break;
    }
  }
  char buf[32];
  if (v >= 100 || name[0] == 'n') {
    std::snprintf(buf, sizeof buf, "%.0f%s", v, name);
  } else if (v >= 10) {
    std::snprintf(buf, sizeof buf, "%.1f%s", v, name);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f%s", v, name);
  }
  return buf;
}

std::string format_duration(std::chrono::nanoseconds d) {
  return format_nanoseconds(static_cast<double>(d.count()));
}

}  // namespace weft::load
