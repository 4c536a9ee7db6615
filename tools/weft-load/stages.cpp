// weft-load: parse_stage and ramp (stages.hpp): the level, the closed
// model's users and the open model's arrival times, worked out in seconds
// as doubles (a run of hours at a million requests/s stays far within
// their precision) and handed out in nanoseconds.
#include "stages.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>

#include "duration.hpp"

namespace weft::load {

namespace {

// Levels are computed in floating point: a level this close below a whole
// number counts as that number, so that the user a stage ramps to exactly
// does run at the stage's end.
constexpr double slack = 1e-6;
// The largest target accepted: far beyond any run, far within a double's
// exact integers.
constexpr double max_target = 1e9;

ramp::duration to_duration(double seconds) {
  return ramp::duration(static_cast<ramp::duration::rep>(std::ceil(seconds * 1e9)));
}

double to_seconds(ramp::duration d) { return std::chrono::duration<double>(d).count(); }

bool valid_level(double v) { return std::isfinite(v) && v >= 0 && v <= max_target; }

}  // namespace

stage parse_stage(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    throw std::invalid_argument("'" + std::string(text) +
                                "' is not a stage (use DURATION:TARGET, e.g. 30s:100)");
  }
  stage s;
  try {
    s.duration = parse_duration(text.substr(0, colon));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("'" + std::string(text) + "': " + e.what());
  }
  if (s.duration <= ramp::duration::zero()) {
    throw std::invalid_argument("'" + std::string(text) + "': the duration must be more than zero");
  }
  const std::string_view target = text.substr(colon + 1);
  const auto [end, ec] = std::from_chars(target.data(), target.data() + target.size(), s.target);
  if (target.empty() || ec != std::errc() || end != target.data() + target.size() ||
      !valid_level(s.target)) {
    throw std::invalid_argument("'" + std::string(text) + "': '" + std::string(target) +
                                "' is not a target (a number from 0 to 1e9)");
  }
  return s;
}

ramp::ramp(double start, std::vector<stage> stages) : peak_(start) {
  if (stages.empty()) throw std::invalid_argument("a ramp needs at least one stage");
  if (!valid_level(start)) throw std::invalid_argument("a ramp's start must be from 0 to 1e9");
  double begin = 0;
  double from = start;
  for (const stage& s : stages) {
    if (s.duration <= duration::zero() || !valid_level(s.target)) {
      throw std::invalid_argument("a stage needs a positive duration and a target from 0 to 1e9");
    }
    const double length = to_seconds(s.duration);
    segments_.push_back({begin, length, from, s.target});
    begin += length;
    from = s.target;
    length_ += s.duration;
    peak_ = std::max(peak_, s.target);
  }
}

ramp ramp::constant(double level, duration length) { return ramp(level, {{length, level}}); }

double ramp::at(duration t) const noexcept {
  const double s = to_seconds(t);
  if (s <= 0) return segments_.front().from;
  for (const segment& g : segments_) {
    if (s < g.begin_s + g.length_s) return g.from + (g.to - g.from) * (s - g.begin_s) / g.length_s;
  }
  return segments_.back().to;
}

unsigned ramp::users_at(duration t) const noexcept {
  return static_cast<unsigned>(std::floor(at(t) + slack));
}

unsigned ramp::most_users() const noexcept {
  return static_cast<unsigned>(std::floor(peak_ + slack));
}

std::optional<ramp::duration> ramp::crossing(double level, bool rising,
                                             duration from) const noexcept {
  // The level is piecewise linear: the first segment past `from` that is
  // on the wanted side of `level` at its start, or crosses it, says when.
  const auto wanted = [&](double v) { return rising ? v >= level : v < level; };
  const double from_s = to_seconds(from);
  for (const segment& g : segments_) {
    const double end = g.begin_s + g.length_s;
    if (end <= from_s) continue;
    const double t0 = std::max(g.begin_s, from_s);
    const double v0 = g.from + (g.to - g.from) * (t0 - g.begin_s) / g.length_s;
    if (wanted(v0)) return to_duration(t0);
    if (wanted(g.to) && g.to != v0) {
      // +1 ns: past the rounding of the crossing, never before it.
      return to_duration(g.begin_s + g.length_s * (level - g.from) / (g.to - g.from)) + duration(1);
    }
  }
  return std::nullopt;
}

std::optional<ramp::duration> ramp::starts(unsigned index, duration from) const noexcept {
  // User `index` runs where the level is at least index + 1 (less the slack).
  return crossing(index + 1.0 - slack / 2, true, from);
}

std::optional<ramp::duration> ramp::stops(unsigned index, duration from) const noexcept {
  // It stops where the level falls below index + 1 less the slack that
  // users_at() allows.
  return crossing(index + 1.0 - slack, false, from);
}

std::optional<ramp::duration> ramp::arrival(double n) const noexcept {
  double rest = n;  // arrivals still to go at the start of the segment
  for (const segment& g : segments_) {
    const double area = (g.from + g.to) / 2 * g.length_s;
    if (rest < area) {
      if (rest <= 0) return to_duration(g.begin_s);
      // The time x into the segment at which from·x + a·x² reaches `rest`
      // (a = half the slope), in the form that stays exact as a → 0.
      const double a = (g.to - g.from) / (2 * g.length_s);
      const double root = std::sqrt(std::max(0.0, g.from * g.from + 4 * a * rest));
      const double x = 2 * rest / (g.from + root);
      return to_duration(g.begin_s + std::min(x, g.length_s));
    }
    rest -= area;
  }
  return std::nullopt;
}

}  // namespace weft::load
