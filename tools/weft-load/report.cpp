// weft-load: the report as a table for humans (format_report), as JSON
// for machines (to_json, from_json and their text forms, on nlohmann-json),
// and merge() of several.
#include "report.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

#include "duration.hpp"

namespace weft::load {

namespace {

constexpr const char* error_names[error_kinds] = {"connect",       "timeout",    "reset",
                                                  "closed",        "parse",      "other",
                                                  "tls-handshake", "tls-verify", "tls"};

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

// ---- JSON --------------------------------------------------------------------------------------

namespace {

using ordered_json = nlohmann::ordered_json;

// Deeper JSON is no report (a report nests 4 deep); the parser refuses it
// before building it.
constexpr int max_depth = 64;

// How a value that is not what was expected looks, for messages: numbers
// and literals as written, anything else by its type.
std::string describe(const ordered_json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_string()) return "a string";
  return v.dump();  // a number, true, false or null
}

// A value of the document being read, with its path for messages
// ("histogram.buckets[3][1]"). Every access checks the type first, so no
// nlohmann exception (nor a silent conversion: get<std::uint64_t>() of -1
// or 1.5 would wrap or truncate) gets out: a bad value is a
// report_format_error naming it.
class node {
 public:
  node(const ordered_json& v, std::string path) : v_(v), path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw report_format_error((path_.empty() ? "the report" : path_) + ": " + what);
  }

  // The member `key` of an object.
  [[nodiscard]] node at(const char* key) const {
    std::string path = path_.empty() ? key : path_ + '.' + key;
    if (!v_.is_object()) fail("expected an object, got " + describe(v_));
    const auto it = v_.find(key);
    if (it == v_.end()) throw report_format_error("missing " + path);
    return {*it, std::move(path)};
  }
  // Calls f(key, member) for each member of an object, in order.
  template <class F>
  void each_member(F f) const {
    if (!v_.is_object()) fail("expected an object, got " + describe(v_));
    for (auto it = v_.begin(); it != v_.end(); ++it) f(it.key(), node(*it, path_ + '.' + it.key()));
  }
  // The length of an array, and its elements.
  [[nodiscard]] std::size_t size() const {
    if (!v_.is_array()) fail("expected an array, got " + describe(v_));
    return v_.size();
  }
  [[nodiscard]] node operator[](std::size_t i) const {
    return {v_[i], path_ + '[' + std::to_string(i) + ']'};
  }

  // An integer written without fraction or exponent, 0 to 2^64 - 1.
  [[nodiscard]] std::uint64_t as_uint() const {
    if (v_.is_number_unsigned()) return v_.get<std::uint64_t>();
    if (v_.is_number_integer() && v_.get<std::int64_t>() >= 0) {  // built by code, or -0
      return static_cast<std::uint64_t>(v_.get<std::int64_t>());
    }
    fail("expected a non-negative integer, got " + describe(v_));
  }
  // Any number (null, which to_json writes for NaN and infinities, is not).
  [[nodiscard]] double as_double() const {
    if (!v_.is_number()) fail("expected a number, got " + describe(v_));
    return v_.get<double>();
  }
  [[nodiscard]] bool as_bool() const {
    if (!v_.is_boolean()) fail("expected true or false, got " + describe(v_));
    return v_.get<bool>();
  }
  [[nodiscard]] const std::string& as_string() const {
    if (!v_.is_string()) fail("expected a string, got " + describe(v_));
    return v_.get_ref<const std::string&>();
  }

 private:
  const ordered_json& v_;
  std::string path_;
};

// A histogram's [index, count] pairs; `total` gets their sum.
sparse_buckets read_buckets(const node& list, std::uint64_t& total) {
  sparse_buckets buckets;
  buckets.reserve(list.size());
  total = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const node bucket = list[i];
    if (bucket.size() != 2) bucket.fail("expected [index, count]");
    const std::uint64_t index = bucket[0].as_uint();
    if (index >= histogram_layout::buckets) {
      bucket[0].fail("no bucket " + std::to_string(index) + " (the layout has 0 to " +
                     std::to_string(histogram_layout::buckets - 1) + ")");
    }
    if (i > 0 && index <= buckets.back().first) bucket[0].fail("buckets out of order");
    const std::uint64_t n = bucket[1].as_uint();
    if (n > UINT64_MAX - total) bucket[1].fail("the counts add up to more than 2^64 - 1");
    total += n;
    buckets.emplace_back(static_cast<std::size_t>(index), n);
  }
  return buckets;
}

// The timeline's seconds (p50_us and p99_us are derived: not read).
std::vector<timeline_second> read_timeline(const node& list) {
  std::vector<timeline_second> out(list.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const node second = list[i];
    timeline_second& s = out[i];
    s.t = second.at("t").as_uint();
    if (s.t != i) second.at("t").fail("expected " + std::to_string(i) + " (one entry a second)");
    s.requests = second.at("requests").as_uint();
    s.errors = second.at("errors").as_uint();
    s.users = second.at("users").as_double();
    s.rate = second.at("rate").as_double();
    std::uint64_t total = 0;
    s.latency = read_buckets(second.at("buckets"), total);
    if (total != s.requests) {
      second.at("buckets").fail("hold " + std::to_string(total) + " responses, but requests is " +
                                std::to_string(s.requests));
    }
  }
  return out;
}

}  // namespace

ordered_json to_json(const report& r) {
  ordered_json out = ordered_json::object();
  out["tool"] = "weft-load";
  out["format"] = std::uint64_t{1};
  out["target"] = r.target;
  out["model"] = r.model;
  out["connections"] = r.connections;
  out["rate"] = r.rate;
  out["workers"] = r.workers;
  out["duration_s"] = r.duration_s;
  out["requests"] = r.requests;
  out["rps"] = r.rps;
  out["bytes"] = r.bytes;
  out["connects"] = r.connects;
  out["cancelled"] = r.cancelled;
  out["interrupted"] = r.interrupted;

  ordered_json errors = ordered_json::object();
  for (std::size_t k = 0; k < error_kinds; ++k) errors[error_names[k]] = r.errors[k];
  out["errors"] = std::move(errors);
  out["errors_total"] = r.error_total();

  ordered_json status = ordered_json::object();
  for (const auto& [code, n] : r.status) status[std::to_string(code)] = n;
  out["status"] = std::move(status);

  ordered_json latency = ordered_json::object();
  latency["mean"] = us(r.latency.mean());
  for (const quantile_row& row : quantiles) latency[row.json] = us(r.latency.quantile(row.q));
  latency["max"] = us(static_cast<double>(r.latency.max()));
  latency["min"] = us(static_cast<double>(r.latency.min()));
  out["latency_us"] = std::move(latency);

  ordered_json hist = ordered_json::object();
  hist["unit"] = "ns";
  hist["layout"] = "log-linear";
  hist["exact_bits"] = histogram_layout::exact_bits;
  hist["sub_bits"] = histogram_layout::sub_bits;
  hist["top_bits"] = histogram_layout::top_bits;
  hist["count"] = r.latency.count();
  hist["sum"] = r.latency.sum();
  hist["min"] = r.latency.min();
  hist["max"] = r.latency.max();
  ordered_json buckets = ordered_json::array();  // [index, count] of non-empty buckets
  const auto& counts = r.latency.counts();
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] != 0) buckets.push_back(ordered_json::array({std::uint64_t{i}, counts[i]}));
  }
  hist["buckets"] = std::move(buckets);
  out["histogram"] = std::move(hist);
  out["timeline"] = timeline_to_json(r.timeline);
  return out;
}

report from_json(const ordered_json& v) {
  if (const auto tool = v.is_object() ? v.find("tool") : v.end();
      tool == v.end() || !tool->is_string() || tool->get_ref<const std::string&>() != "weft-load") {
    throw report_format_error("not a weft-load report (no \"tool\": \"weft-load\")");
  }
  const node doc(v, "");
  if (const std::uint64_t format = doc.at("format").as_uint(); format != 1) {
    throw report_format_error("report format " + std::to_string(format) +
                              ", but this weft-load reads format 1");
  }
  report r;
  r.target = doc.at("target").as_string();
  r.model = doc.at("model").as_string();
  r.connections = doc.at("connections").as_uint();
  r.rate = doc.at("rate").as_double();
  r.workers = doc.at("workers").as_uint();
  r.duration_s = doc.at("duration_s").as_double();
  r.requests = doc.at("requests").as_uint();
  r.rps = doc.at("rps").as_double();
  r.bytes = doc.at("bytes").as_uint();
  r.connects = doc.at("connects").as_uint();
  // Absent from the reports of versions without cancellation.
  if (v.contains("cancelled")) r.cancelled = doc.at("cancelled").as_uint();
  if (v.contains("interrupted")) r.interrupted = doc.at("interrupted").as_bool();
  doc.at("errors").each_member([&](const std::string& name, const node& n) {
    const auto* it = std::find(std::begin(error_names), std::end(error_names), name);
    if (it == std::end(error_names)) n.fail("unknown error kind");
    r.errors[static_cast<std::size_t>(it - std::begin(error_names))] += n.as_uint();
  });
  doc.at("status").each_member([&](const std::string& code, const node& n) {
    int c = 0;
    const char* const end = code.data() + code.size();
    const auto [last, ec] = std::from_chars(code.data(), end, c);
    if (ec != std::errc() || last != end || c < 100 || c > 599) n.fail("not an HTTP status");
    r.status[c] += n.as_uint();
  });

  // errors_total and latency_us are derived: the histogram is the data.
  const node hist = doc.at("histogram");
  if (hist.at("unit").as_string() != "ns" || hist.at("layout").as_string() != "log-linear" ||
      hist.at("exact_bits").as_uint() != histogram_layout::exact_bits ||
      hist.at("sub_bits").as_uint() != histogram_layout::sub_bits ||
      hist.at("top_bits").as_uint() != histogram_layout::top_bits) {
    hist.fail("the bucket layout differs from this weft-load's");
  }
  std::uint64_t total = 0;
  const sparse_buckets buckets = read_buckets(hist.at("buckets"), total);
  if (const node count = hist.at("count"); count.as_uint() != total) {
    count.fail(std::to_string(count.as_uint()) + ", but the buckets hold " + std::to_string(total));
  }
  if (!r.latency.assign(buckets, hist.at("sum").as_uint(), hist.at("min").as_uint(),
                        hist.at("max").as_uint())) {
    hist.fail("min is above max");  // indices and count are checked above
  }
  if (v.contains("timeline")) r.timeline = read_timeline(doc.at("timeline"));
  return r;
}

std::string to_json_text(const report& r) {
  return to_json(r).dump(2, ' ', false, ordered_json::error_handler_t::replace) + '\n';
}

report from_json_text(std::string_view text) {
  ordered_json doc;
  try {
    doc =
        ordered_json::parse(text, [](int depth, ordered_json::parse_event_t event, ordered_json&) {
          if (depth >= max_depth && (event == ordered_json::parse_event_t::object_start ||
                                     event == ordered_json::parse_event_t::array_start)) {
            throw report_format_error("invalid JSON: nested more than " +
                                      std::to_string(max_depth) + " deep");
          }
          return true;
        });
  } catch (const ordered_json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ...":
    // the part after the tag is the message.
    std::string_view what = e.what();
    if (const std::size_t tag = what.find("] "); what.starts_with('[') && tag != what.npos) {
      what.remove_prefix(tag + 2);
    }
    throw report_format_error("invalid JSON: " + std::string(what));
  }
  return from_json(doc);
}

// ---- the table and merge --------------------------------------------------------------------

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
  if (r.interrupted) out += "  Interrupted (Ctrl-C): the figures cover the time that ran\n";
  if (r.cancelled) {
    add("  Cancelled  %llu in flight at the end (neither responses nor errors)\n",
        static_cast<unsigned long long>(r.cancelled));
  }
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
    out.cancelled += p.cancelled;
    out.interrupted = out.interrupted || p.interrupted;
    for (std::size_t k = 0; k < error_kinds; ++k) out.errors[k] += p.errors[k];
    for (const auto& [code, n] : p.status) out.status[code] += n;
    out.latency.merge(p.latency);
    merge_timeline(out.timeline, p.timeline);
  }
  return out;
}

}  // namespace weft::load
