#include "threshold.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "duration.hpp"

namespace weft::load {

namespace {

struct metric_name {
  std::string_view name;
  threshold::metric metric;
};
constexpr metric_name metrics[] = {
    {"p50", threshold::metric::p50},          {"p90", threshold::metric::p90},
    {"p99", threshold::metric::p99},          {"p999", threshold::metric::p999},
    {"max", threshold::metric::max},          {"mean", threshold::metric::mean},
    {"errors", threshold::metric::errors},    {"rps", threshold::metric::rps},
    {"requests", threshold::metric::requests}};

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool is_latency(threshold::metric m) {
  return m != threshold::metric::errors && m != threshold::metric::rps &&
         m != threshold::metric::requests;
}

double parse_number(std::string_view text, std::string_view whole) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) ||
      v < 0) {
    throw std::invalid_argument("'" + std::string(whole) + "': '" + std::string(text) +
                                "' is not a non-negative number");
  }
  return v;
}

}  // namespace

threshold parse_threshold(std::string_view text) {
  threshold t;
  t.text = std::string(text);
  const auto op_pos = text.find_first_of("<>");
  if (op_pos == std::string_view::npos) {
    throw std::invalid_argument("'" + t.text + "' has no comparison (use e.g. 'p99>50ms')");
  }
  const std::string_view name = trim(text.substr(0, op_pos));
  std::string_view rest = text.substr(op_pos);
  const bool greater = rest.front() == '>';
  rest.remove_prefix(1);
  const bool or_equal = !rest.empty() && rest.front() == '=';
  if (or_equal) rest.remove_prefix(1);
  t.op = greater
             ? (or_equal ? threshold::comparison::greater_equal : threshold::comparison::greater)
             : (or_equal ? threshold::comparison::less_equal : threshold::comparison::less);
  const std::string_view limit = trim(rest);

  bool known = false;
  for (const metric_name& m : metrics) {
    if (m.name == name) {
      t.what = m.metric;
      known = true;
    }
  }
  if (!known) {
    throw std::invalid_argument("'" + t.text + "': unknown metric '" + std::string(name) +
                                "' (p50 p90 p99 p999 max mean errors rps requests)");
  }
  if (is_latency(t.what)) {
    try {
      t.limit = static_cast<double>(parse_duration(limit).count());
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("'" + t.text + "': " + e.what());
    }
  } else if (t.what == threshold::metric::errors && !limit.empty() && limit.back() == '%') {
    t.percent = true;
    t.limit = parse_number(limit.substr(0, limit.size() - 1), text);
  } else {
    t.limit = parse_number(limit, text);
  }
  return t;
}

std::optional<std::string> check(const threshold& t, const report& r) {
  double actual = 0;
  switch (t.what) {
    case threshold::metric::p50:
      actual = r.latency.quantile(0.50);
      break;
    case threshold::metric::p90:
      actual = r.latency.quantile(0.90);
      break;
    case threshold::metric::p99:
      actual = r.latency.quantile(0.99);
      break;
    case threshold::metric::p999:
      actual = r.latency.quantile(0.999);
      break;
    case threshold::metric::max:
      actual = static_cast<double>(r.latency.max());
      break;
    case threshold::metric::mean:
      actual = r.latency.mean();
      break;
    case threshold::metric::errors:
      actual = t.percent ? r.error_percent() : static_cast<double>(r.error_total());
      break;
    case threshold::metric::rps:
      actual = r.rps;
      break;
    case threshold::metric::requests:
      actual = static_cast<double>(r.requests);
      break;
  }
  bool crossed = false;
  switch (t.op) {
    case threshold::comparison::greater:
      crossed = actual > t.limit;
      break;
    case threshold::comparison::greater_equal:
      crossed = actual >= t.limit;
      break;
    case threshold::comparison::less:
      crossed = actual < t.limit;
      break;
    case threshold::comparison::less_equal:
      crossed = actual <= t.limit;
      break;
  }
  if (!crossed) return std::nullopt;
  std::string shown;
  if (is_latency(t.what)) {
    shown = format_nanoseconds(actual);
  } else {
    char buf[64];
    std::snprintf(buf, sizeof buf, t.percent ? "%.3g%%" : "%.2f", actual);
    shown = buf;
  }
  const auto op_at = t.text.find_first_of("<>");
  return t.text + " crossed: " + std::string(trim(t.text.substr(0, op_at))) + " = " + shown;
}

}  // namespace weft::load
