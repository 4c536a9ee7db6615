#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "duration.hpp"

namespace weft::load {

namespace {

constexpr const char* error_names[error_kinds] = {"connect", "timeout", "reset",
                                                  "closed",  "parse",   "other"};

// The quantiles every report shows, with their JSON names.
struct quantile_row {
  const char* json;
  const char* human;
  double q;
};
constexpr quantile_row quantiles[] = {
    {"p50", "50%", 0.50}, {"p90", "90%", 0.90}, {"p99", "99%", 0.99}, {"p999", "99.9%", 0.999}};

double us(double ns) { return ns / 1e3; }

std::string format_count(std::uint64_t n) {
  char buf[32];
  if (n >= 10'000'000) {
    std::snprintf(buf, sizeof buf, "%.2fM", static_cast<double>(n) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
  }
  return buf;
}

std::string format_bytes(std::uint64_t n) {
  char buf[32];
  const double b = static_cast<double>(n);
  if (b >= 1024.0 * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.2fGB", b / (1024.0 * 1024 * 1024));
  } else if (b >= 1024.0 * 1024) {
    std::snprintf(buf, sizeof buf, "%.2fMB", b / (1024.0 * 1024));
  } else if (b >= 1024.0) {
    std::snprintf(buf, sizeof buf, "%.2fKB", b / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%lluB", static_cast<unsigned long long>(n));
  }
  return buf;
}

}  // namespace

const char* error_name(error_kind kind) noexcept {
  return error_names[static_cast<std::size_t>(kind)];
}

std::uint64_t report::error_total() const noexcept {
  std::uint64_t total = 0;
  for (const std::uint64_t n : errors) total += n;
  return total;
}

double report::error_percent() const noexcept {
  const std::uint64_t errs = error_total();
  const std::uint64_t attempts = requests + errs;
  return attempts ? 100.0 * static_cast<double>(errs) / static_cast<double>(attempts) : 0.0;
}

json::value to_json(const report& r) {
  json::value out = json::value::object();
  out.set("tool", "weft-load");
  out.set("format", 1);
  out.set("target", r.target);
  out.set("model", r.model);
  out.set("connections", r.connections);
  out.set("rate", r.rate);
  out.set("workers", r.workers);
  out.set("duration_s", r.duration_s);
  out.set("requests", r.requests);
  out.set("rps", r.rps);
  out.set("bytes", r.bytes);
  out.set("connects", r.connects);

  json::value errors = json::value::object();
  for (std::size_t k = 0; k < error_kinds; ++k) errors.set(error_names[k], r.errors[k]);
  out.set("errors", std::move(errors));
  out.set("errors_total", r.error_total());

  json::value status = json::value::object();
  for (const auto& [code, n] : r.status) status.set(std::to_string(code), n);
  out.set("status", std::move(status));

  json::value latency = json::value::object();
  latency.set("mean", us(r.latency.mean()));
  for (const quantile_row& row : quantiles) latency.set(row.json, us(r.latency.quantile(row.q)));
  latency.set("max", us(static_cast<double>(r.latency.max())));
  latency.set("min", us(static_cast<double>(r.latency.min())));
  out.set("latency_us", std::move(latency));

  json::value hist = json::value::object();
  hist.set("unit", "ns");
  hist.set("layout", "log-linear");
  hist.set("exact_bits", histogram_layout::exact_bits);
  hist.set("sub_bits", histogram_layout::sub_bits);
  hist.set("top_bits", histogram_layout::top_bits);
  hist.set("count", r.latency.count());
  hist.set("sum", r.latency.sum());
  hist.set("min", r.latency.min());
  hist.set("max", r.latency.max());
  json::value buckets = json::value::array();  // [index, count] of non-empty buckets
  const auto& counts = r.latency.counts();
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    json::value pair = json::value::array();
    pair.push(static_cast<std::uint64_t>(i));
    pair.push(counts[i]);
    buckets.push(std::move(pair));
  }
  hist.set("buckets", std::move(buckets));
  out.set("histogram", std::move(hist));
  return out;
}

report from_json(const json::value& v) {
  report r;
  if (const json::value* tool = v.find("tool"); !tool || tool->as_string() != "weft-load") {
    throw json::error("not a weft-load report (no \"tool\": \"weft-load\")");
  }
  if (v.at("format").as_uint() != 1) throw json::error("unknown report format");
  r.target = v.at("target").as_string();
  r.model = v.at("model").as_string();
  r.connections = v.at("connections").as_uint();
  r.rate = v.at("rate").as_double();
  r.workers = v.at("workers").as_uint();
  r.duration_s = v.at("duration_s").as_double();
  r.requests = v.at("requests").as_uint();
  r.rps = v.at("rps").as_double();
  r.bytes = v.at("bytes").as_uint();
  r.connects = v.at("connects").as_uint();
  for (const auto& [name, n] : v.at("errors").as_object()) {
    const auto* it = std::find(std::begin(error_names), std::end(error_names), name);
    if (it == std::end(error_names)) throw json::error("unknown error kind \"" + name + "\"");
    r.errors[static_cast<std::size_t>(it - std::begin(error_names))] += n.as_uint();
  }
  for (const auto& [code, n] : v.at("status").as_object()) {
    int c = 0;
    try {
      c = std::stoi(code);
    } catch (const std::exception&) {
      throw json::error("bad HTTP status \"" + code + "\"");
    }
    if (c < 100 || c > 599) throw json::error("bad HTTP status \"" + code + "\"");
    r.status[c] += n.as_uint();
  }

  const json::value& hist = v.at("histogram");
  if (hist.at("unit").as_string() != "ns" || hist.at("layout").as_string() != "log-linear" ||
      hist.at("exact_bits").as_uint() != histogram_layout::exact_bits ||
      hist.at("sub_bits").as_uint() != histogram_layout::sub_bits ||
      hist.at("top_bits").as_uint() != histogram_layout::top_bits) {
    throw json::error("histogram layout differs from this weft-load's");
  }
  std::vector<std::pair<std::size_t, std::uint64_t>> buckets;
  for (const json::value& pair : hist.at("buckets").as_array()) {
    const auto& p = pair.as_array();
    if (p.size() != 2) throw json::error("a histogram bucket is not [index, count]");
    buckets.emplace_back(static_cast<std::size_t>(p[0].as_uint()), p[1].as_uint());
  }
  if (!r.latency.assign(buckets, hist.at("sum").as_uint(), hist.at("min").as_uint(),
                        hist.at("max").as_uint()) ||
      r.latency.count() != hist.at("count").as_uint()) {
    throw json::error("inconsistent histogram");
  }
  return r;
}

std::string format_report(const report& r) {
  std::string out;
  char line[256];
  const auto add = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  const histogram& h = r.latency;
  add("  %s model, %llu connections", r.model.c_str(),
      static_cast<unsigned long long>(r.connections));
  if (r.rate > 0) add(", %.0f requests/s asked", r.rate);
  add(", %llu worker%s, %s\n", static_cast<unsigned long long>(r.workers),
      r.workers == 1 ? "" : "s", format_nanoseconds(r.duration_s * 1e9).c_str());
  add("  Latency    %10s %10s %10s %10s %10s %10s\n", "mean", "p50", "p90", "p99", "p99.9", "max");
  add("             %10s", format_nanoseconds(h.mean()).c_str());
  for (const quantile_row& row : quantiles)
    add(" %10s", format_nanoseconds(h.quantile(row.q)).c_str());
  add(" %10s\n", format_nanoseconds(static_cast<double>(h.max())).c_str());
  add("  Requests   %s in %s, %s read\n", format_count(r.requests).c_str(),
      format_nanoseconds(r.duration_s * 1e9).c_str(), format_bytes(r.bytes).c_str());
  add("  Requests/s %.2f\n", r.rps);
  if (r.error_total() == 0) {
    out += "  Errors     none\n";
  } else {
    add("  Errors     %llu (%.2f%%):", static_cast<unsigned long long>(r.error_total()),
        r.error_percent());
    for (std::size_t k = 0; k < error_kinds; ++k) {
      if (r.errors[k])
        add(" %s %llu", error_names[k], static_cast<unsigned long long>(r.errors[k]));
    }
    out += '\n';
  }
  if (!r.status.empty()) {
    out += "  Status    ";
    for (const auto& [code, n] : r.status)
      add(" %d: %llu", code, static_cast<unsigned long long>(n));
    out += '\n';
  }
  return out;
}

report merge(const std::vector<report>& parts) {
  if (parts.empty()) throw std::invalid_argument("merge: no reports");
  report out = parts.front();
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const report& p = parts[i];
    if (p.target != out.target) out.target = "(several targets)";
    if (p.model != out.model) out.model = "mixed";
    out.connections += p.connections;
    out.rate += p.rate;
    out.workers += p.workers;
    out.duration_s = std::max(out.duration_s, p.duration_s);
    out.requests += p.requests;
    out.rps += p.rps;
    out.bytes += p.bytes;
    out.connects += p.connects;
    for (std::size_t k = 0; k < error_kinds; ++k) out.errors[k] += p.errors[k];
    for (const auto& [code, n] : p.status) out.status[code] += n;
    out.latency.merge(p.latency);
  }
  return out;
}

}  // namespace weft::load
