// weft-load: the latency histogram (accuracy against exact percentiles on
// random data, lossless merge) and the JSON report (exact round trip in the
// documented shape, reports of earlier versions read, malformed JSON and
// bad reports refused with a message naming the member, merge of runs, and
// `weft-load merge` on bad files).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "histogram.hpp"
#include "report.hpp"
#include "weft_load_support.hpp"

namespace {

using namespace weft::load;
using namespace weft::load::test;

// ---- the histogram --------------------------------------------------------------------------

TEST(LoadHistogram, LayoutCoversEveryBucketOnce) {
  using L = histogram_layout;
  EXPECT_EQ(L::buckets, 2048u);
  for (std::size_t i = 0; i < L::buckets; ++i) {
    const std::uint64_t lo = L::lower_bound(i);
    ASSERT_EQ(L::index_of(lo), i);
    ASSERT_EQ(L::index_of(lo + L::width(i) - 1), i);
    if (i + 1 < L::buckets) {
      ASSERT_EQ(L::lower_bound(i + 1), lo + L::width(i));
    }
    // At most 1/64 of the bucket's values wide: the midpoint is within 0.8%.
    ASSERT_LE(static_cast<double>(L::width(i) - 1) / 2, 0.008 * static_cast<double>(lo)) << i;
  }
  EXPECT_EQ(L::index_of(UINT64_MAX), L::buckets - 1);
}

TEST(LoadHistogram, PercentilesOfAKnownDistribution) {
  // 1 us .. 100 ms in steps of 1 us: p50 is 50 ms, p99 99 ms, and so on.
  histogram h;
  for (std::uint64_t us = 1; us <= 100'000; ++us) h.record(us * 1000);
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100'000'000u);
  EXPECT_DOUBLE_EQ(h.mean(), 50'000.5 * 1000);
  for (const double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = q * 100'000 * 1000;
    EXPECT_NEAR(h.quantile(q), exact, 0.01 * exact) << q;
  }
  EXPECT_EQ(h.quantile(1.0), 100'000'000.0);
  EXPECT_EQ(histogram().quantile(0.5), 0.0);

  histogram small;  // below 128 ns every value is exact
  for (std::uint64_t v : {3, 5, 7, 100}) small.record(v);
  EXPECT_EQ(small.quantile(0.5), 5.0);
  EXPECT_EQ(small.quantile(0.75), 7.0);
}

TEST(LoadHistogram, PercentilesWithinOnePercentOfExactOnRandomData) {
  std::mt19937_64 rng(42);
  // Log-uniform from 1 us to 100 s: every decade of the range gets samples.
  std::uniform_real_distribution<double> exponent(3, 11);
  std::vector<std::uint64_t> samples(200'000);
  histogram h;
  for (auto& s : samples) {
    s = static_cast<std::uint64_t>(std::pow(10.0, exponent(rng)));
    h.record(s);
  }
  std::sort(samples.begin(), samples.end());
  for (const double q : {0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999}) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
    const double exact = static_cast<double>(samples[rank - 1]);
    EXPECT_NEAR(h.quantile(q), exact, 0.01 * exact) << q;
  }
  EXPECT_EQ(h.max(), samples.back());
  EXPECT_EQ(h.min(), samples.front());
}

TEST(LoadHistogram, MergeEqualsTheHistogramOfTheUnion) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(13.0, 1.5);  // around 0.5 ms, long tail
  histogram a, b, all;
  for (int i = 0; i < 50'000; ++i) {
    const auto v = static_cast<std::uint64_t>(latency(rng));
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
  }
  histogram merged = a;
  merged.merge(b);
  EXPECT_TRUE(merged == all);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.sum(), all.sum());
  for (const double q : {0.5, 0.99, 0.999}) EXPECT_EQ(merged.quantile(q), all.quantile(q));
}

// ---- the JSON report ------------------------------------------------------------------------

// The message of the report_format_error that reading `text` throws, or
// "accepted" if it reads.
std::string rejection(const std::string& text) {
  try {
    (void)from_json_text(text);
  } catch (const report_format_error& e) {
    return e.what();
  }
  return "accepted";
}

// The member names of an object, in order.
std::vector<std::string> keys(const nlohmann::ordered_json& object) {
  std::vector<std::string> out;
  for (auto it = object.begin(); it != object.end(); ++it) out.push_back(it.key());
  return out;
}

TEST(LoadJson, ReportRoundTripsExactly) {
  const report r = sample_report(3);
  const std::string text = to_json_text(r);
  expect_same(from_json_text(text), r);
  expect_same(from_json(to_json(r)), r);  // without the text, too
  EXPECT_EQ(text.back(), '\n');

  // The members of docs/load-testing.md, in its order, with its types.
  const auto v = nlohmann::ordered_json::parse(text);
  EXPECT_EQ(keys(v), (std::vector<std::string>{
                         "tool",         "format",   "target",     "model",       "connections",
                         "rate",         "workers",  "duration_s", "requests",    "rps",
                         "bytes",        "connects", "cancelled",  "interrupted", "errors",
                         "errors_total", "status",   "latency_us", "histogram",   "timeline"}));
  EXPECT_EQ(keys(v["errors"]),
            (std::vector<std::string>{"connect", "timeout", "reset", "closed", "parse", "other",
                                      "tls-handshake", "tls-verify", "tls"}));
  EXPECT_EQ(keys(v["latency_us"]),
            (std::vector<std::string>{"mean", "p50", "p90", "p99", "p999", "max", "min"}));
  EXPECT_EQ(keys(v["histogram"]),
            (std::vector<std::string>{"unit", "layout", "exact_bits", "sub_bits", "top_bits",
                                      "count", "sum", "min", "max", "buckets"}));
  EXPECT_EQ(keys(v["status"]), (std::vector<std::string>{"200", "503"}));
  for (const char* key :
       {"format", "connections", "workers", "requests", "bytes", "connects", "errors_total"}) {
    EXPECT_TRUE(v[key].is_number_unsigned()) << key;
  }
  for (const char* key : {"rate", "duration_s", "rps"}) EXPECT_TRUE(v[key].is_number()) << key;
  EXPECT_EQ(v["tool"], "weft-load");
  EXPECT_EQ(v["format"], 1u);
  EXPECT_EQ(v["status"]["503"].get<std::uint64_t>(), 1000u);
  EXPECT_EQ(v["errors"]["timeout"].get<std::uint64_t>(), 3u);
  EXPECT_EQ(v["errors_total"].get<std::uint64_t>(), 5u);
  EXPECT_NEAR(v["latency_us"]["p50"].get<double>(), r.latency.quantile(0.5) / 1e3, 1e-9);
  const auto& buckets = v["histogram"]["buckets"];
  ASSERT_FALSE(buckets.empty());
  for (const auto& b : buckets) {
    ASSERT_EQ(b.size(), 2u);
    EXPECT_TRUE(b[0].is_number_unsigned() && b[1].is_number_unsigned());
    EXPECT_NE(b[1].get<std::uint64_t>(), 0u);  // only the non-empty buckets
  }
}

TEST(LoadJson, CountsRoundTripExactlyUpTo64Bits) {
  report r = sample_report(4);
  r.bytes = UINT64_MAX;
  r.requests = (std::uint64_t{1} << 53) + 1;  // no double holds it
  r.status[200] = UINT64_MAX - 1;
  r.duration_s = 0.1 + 0.2;  // doubles come back bit for bit as well
  r.rps = 1.0 / 3;
  r.latency = histogram();
  r.latency.record_n(1, UINT64_MAX);  // count and sum 2^64 - 1
  const report back = from_json_text(to_json_text(r));
  expect_same(back, r);
  EXPECT_EQ(back.latency.count(), UINT64_MAX);
  EXPECT_EQ(back.status.at(200), UINT64_MAX - 1);
  EXPECT_EQ(back.requests, (std::uint64_t{1} << 53) + 1);

  report empty;  // nothing measured: no buckets, min and max 0
  empty.target = "http://127.0.0.1:1/";
  empty.model = "closed";
  expect_same(from_json_text(to_json_text(empty)), empty);
}

TEST(LoadJson, ReadsReportsOfEarlierVersions) {
  // Written by weft-load's own JSON writer before nlohmann-json: doubles
  // without ".0", buckets eight to a line.
  const std::string old = R"({
  "tool": "weft-load",
  "format": 1,
  "target": "http://example.test:8080/a?b=\"c\"",
  "model": "open",
  "connections": 3,
  "rate": 1500,
  "workers": 1,
  "duration_s": 2,
  "requests": 5,
  "rps": 2.5,
  "bytes": 65,
  "connects": 3,
  "errors": {
    "connect": 0,
    "timeout": 2,
    "reset": 0,
    "closed": 0,
    "parse": 0,
    "other": 1
  },
  "errors_total": 3,
  "status": {
    "200": 4,
    "404": 1
  },
  "latency_us": {
    "mean": 3600049.6006,
    "p50": 123.3915,
    "p90": 1.8e+07,
    "p99": 1.8e+07,
    "p999": 1.8e+07,
    "max": 1.8e+07,
    "min": 0.09
  },
  "histogram": {
    "unit": "ns",
    "layout": "log-linear",
    "exact_bits": 7,
    "sub_bits": 6,
    "top_bits": 37,
    "count": 5,
    "sum": 18000248003,
    "min": 90,
    "max": 18000000000,
    "buckets": [
      [90, 1], [317, 1], [760, 2], [1859, 1]
    ]
  }
}
)";
  report want;
  want.target = "http://example.test:8080/a?b=\"c\"";
  want.model = "open";
  want.connections = 3;
  want.rate = 1500;
  want.workers = 1;
  want.duration_s = 2;
  want.requests = 5;
  want.rps = 2.5;
  want.bytes = 65;
  want.connects = 3;
  want.errors[static_cast<std::size_t>(error_kind::timeout)] = 2;
  want.errors[static_cast<std::size_t>(error_kind::other)] = 1;
  want.status = {{200, 4}, {404, 1}};
  for (const std::uint64_t ns : {90u, 1000u, 123456u, 123457u}) want.latency.record(ns);
  want.latency.record(18'000'000'000);
  const report got = from_json_text(old);
  expect_same(got, want);
  // And it merges with a new one as if both were new.
  const report fresh = sample_report(5);
  expect_same(merge({got, from_json_text(to_json_text(fresh))}), merge({want, fresh}));
}

TEST(LoadJson, MalformedJsonIsRefusedWithAMessage) {
  for (const std::string bad :
       {"",         "   ",      "{",     "[1,]",       "{\"a\" 1}",   "01",         "1.",
        "-",        "\"abc",    "tru",   "[1] x",      "\"\\ud800\"", "{\"a\":1,}", "\"\x01\"",
        "{'a': 1}", "// c\n{}", "[NaN]", "[Infinity]", "\"\xff\"",    "1e400",      "[-1e400]"}) {
    const std::string why = rejection(bad);
    EXPECT_EQ(why.rfind("invalid JSON: ", 0), 0u) << bad << ": " << why;
    EXPECT_EQ(why.find("[json.exception"), std::string::npos) << why;  // nlohmann's tag is cut
  }
  EXPECT_NE(rejection("{\n  \"tool\": \"weft-load\",\n  x\n}").find("line 3"), std::string::npos)
      << rejection("{\n  \"tool\": \"weft-load\",\n  x\n}");

  // Deep nesting is refused before it is built, however deep.
  EXPECT_EQ(rejection(std::string(100, '[') + std::string(100, ']')),
            "invalid JSON: nested more than 64 deep");
  EXPECT_EQ(rejection(std::string(1'000'000, '[')), "invalid JSON: nested more than 64 deep");
  std::string objects;
  for (int i = 0; i < 100; ++i) objects += "{\"a\":";
  EXPECT_EQ(rejection(objects + "1" + std::string(100, '}')),
            "invalid JSON: nested more than 64 deep");
  // Up to the limit it is JSON, just not a report.
  EXPECT_EQ(rejection(std::string(64, '[') + std::string(64, ']')),
            "not a weft-load report (no \"tool\": \"weft-load\")");
}

TEST(LoadJson, OtherDocumentsAreNotReports) {
  const std::string not_report = "not a weft-load report (no \"tool\": \"weft-load\")";
  for (const char* doc : {"{}", "[]", "42", "null", "\"weft-load\"", "{\"tool\": \"wrk\"}",
                          "{\"tool\": 1}", "[{\"tool\": \"weft-load\"}]"}) {
    EXPECT_EQ(rejection(doc), not_report) << doc;
  }
  EXPECT_EQ(rejection("{\"tool\": \"weft-load\"}"), "missing format");
  EXPECT_EQ(rejection("{\"tool\": \"weft-load\", \"format\": 2}"),
            "report format 2, but this weft-load reads format 1");
  EXPECT_EQ(rejection("{\"tool\": \"weft-load\", \"format\": 1}"), "missing target");
}

TEST(LoadJson, BadMembersAreRefusedByName) {
  const nlohmann::ordered_json good = to_json(sample_report(6));
  ASSERT_EQ(rejection(good.dump()), "accepted");
  // Each case spoils one member of a good report: edit(document) and the
  // message expected.
  using J = nlohmann::ordered_json;
  using edit = void (*)(J&);
  const std::vector<std::pair<edit, std::string>> cases = {
      {[](J& d) { d.erase("requests"); }, "missing requests"},
      {[](J& d) { d["requests"] = -1; }, "requests: expected a non-negative integer, got -1"},
      {[](J& d) { d["requests"] = 1.5; }, "requests: expected a non-negative integer, got 1.5"},
      {[](J& d) { d["requests"] = 1000.0; },  // written 1000.0: not an integer
       "requests: expected a non-negative integer, got 1000.0"},
      {[](J& d) { d["requests"] = "10"; },
       "requests: expected a non-negative integer, got a string"},
      {[](J& d) { d["requests"] = nullptr; },
       "requests: expected a non-negative integer, got null"},
      {[](J& d) { d["requests"] = true; }, "requests: expected a non-negative integer, got true"},
      {[](J& d) { d["target"] = 5; }, "target: expected a string, got 5"},
      {[](J& d) { d["rps"] = "fast"; }, "rps: expected a number, got a string"},
      {[](J& d) { d["errors"] = J::array(); }, "errors: expected an object, got an array"},
      {[](J& d) { d["errors"]["bogus"] = 1; }, "errors.bogus: unknown error kind"},
      {[](J& d) { d["errors"]["reset"] = -2; },
       "errors.reset: expected a non-negative integer, got -2"},
      {[](J& d) { d["status"]["abc"] = 1; }, "status.abc: not an HTTP status"},
      {[](J& d) { d["status"]["99"] = 1; }, "status.99: not an HTTP status"},
      {[](J& d) { d["status"]["200x"] = 1; }, "status.200x: not an HTTP status"},
      {[](J& d) { d["status"]["200"] = 0.5; },
       "status.200: expected a non-negative integer, got 0.5"},
      {[](J& d) { d.erase("histogram"); }, "missing histogram"},
      {[](J& d) { d["histogram"] = 7; }, "histogram: expected an object, got 7"},
      {[](J& d) { d["histogram"]["exact_bits"] = 8; },
       "histogram: the bucket layout differs from this weft-load's"},
      {[](J& d) { d["histogram"]["unit"] = "us"; },
       "histogram: the bucket layout differs from this weft-load's"},
      {[](J& d) { d["histogram"]["buckets"] = "none"; },
       "histogram.buckets: expected an array, got a string"},
      {[](J& d) { d["histogram"]["buckets"][0] = 3; },
       "histogram.buckets[0]: expected an array, got 3"},
      {[](J& d) { d["histogram"]["buckets"][1].push_back(1); },
       "histogram.buckets[1]: expected [index, count]"},
      {[](J& d) { d["histogram"]["buckets"][0][0] = 2048; },
       "histogram.buckets[0][0]: no bucket 2048 (the layout has 0 to 2047)"},
      {[](J& d) { d["histogram"]["buckets"][0][1] = -3; },
       "histogram.buckets[0][1]: expected a non-negative integer, got -3"},
      {[](J& d) { d["histogram"]["buckets"][0][0] = 1.0; },
       "histogram.buckets[0][0]: expected a non-negative integer, got 1.0"},
      {[](J& d) { d["histogram"]["count"] = d["histogram"]["count"].get<std::uint64_t>() + 1; },
       "histogram.count: 10001, but the buckets hold 10000"},
      {[](J& d) {
         d["histogram"]["buckets"][0][1] = UINT64_MAX;
         d["histogram"]["buckets"][1][1] = 2;
       },
       "histogram.buckets[1][1]: the counts add up to more than 2^64 - 1"},
      {[](J& d) { d["histogram"]["min"] = d["histogram"]["max"].get<std::uint64_t>() + 1; },
       "histogram: min is above max"},
  };
  for (const auto& [spoil, message] : cases) {
    nlohmann::ordered_json doc = good;
    spoil(doc);
    EXPECT_EQ(rejection(doc.dump(2)), message);
    EXPECT_THROW((void)from_json(doc), report_format_error) << message;  // not through text
  }

  // Numbers no 64-bit integer holds: parsed as doubles, so refused as counts.
  std::string text = good.dump();
  const std::string bytes = "\"bytes\":" + good["bytes"].dump();
  ASSERT_NE(text.find(bytes), std::string::npos);
  for (const char* huge : {"18446744073709551616", "1e19", "99999999999999999999999999"}) {
    std::string t = text;
    t.replace(t.find(bytes), bytes.size(), std::string("\"bytes\":") + huge);
    EXPECT_EQ(rejection(t).rfind("bytes: expected a non-negative integer, got ", 0), 0u)
        << rejection(t);
  }
  std::string t = text;
  t.replace(t.find(bytes), bytes.size(), "\"bytes\":18446744073709551615");
  EXPECT_EQ(from_json_text(t).bytes, UINT64_MAX);
  t.replace(t.find("\"bytes\":18446744073709551615"), 28, "\"bytes\":-0");
  EXPECT_EQ(rejection(t), "accepted");  // -0 is the integer 0
}

TEST(LoadJson, NonFiniteNumbersAreWrittenAsNullAndRefused) {
  report r = sample_report(7);
  r.rps = std::nan("");
  std::string text = to_json_text(r);
  const auto v = nlohmann::ordered_json::parse(text);  // still JSON
  EXPECT_TRUE(v["rps"].is_null());
  EXPECT_EQ(rejection(text), "rps: expected a number, got null");

  r = sample_report(7);
  r.rate = std::numeric_limits<double>::infinity();
  text = to_json_text(r);
  EXPECT_TRUE(nlohmann::ordered_json::parse(text)["rate"].is_null());
  EXPECT_EQ(rejection(text), "rate: expected a number, got null");
}

TEST(LoadJson, TargetThatIsNotUtf8IsWrittenAnyway) {
  report r = sample_report(8);
  r.target = "http://127.0.0.1:8080/\xff\xfe";
  std::string text;
  ASSERT_NO_THROW(text = to_json_text(r));
  EXPECT_EQ(from_json_text(text).target, "http://127.0.0.1:8080/\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(LoadJson, MergeAddsRunsLosslessly) {
  const report a = sample_report(1);
  const report b = sample_report(2);
  const report m = merge({a, b});
  EXPECT_EQ(m.requests, a.requests + b.requests);
  EXPECT_EQ(m.status.at(200), a.status.at(200) + b.status.at(200));
  EXPECT_EQ(m.error_total(), a.error_total() + b.error_total());
  EXPECT_EQ(m.rps, a.rps + b.rps);
  EXPECT_EQ(m.duration_s, 1.5);
  histogram both = a.latency;
  both.merge(b.latency);
  EXPECT_TRUE(m.latency == both);
  // Through JSON, as `weft-load merge` reads them: the same, and a merged
  // report written and read back is the same again.
  expect_same(merge({from_json_text(to_json_text(a)), from_json_text(to_json_text(b))}), m);
  expect_same(from_json_text(to_json_text(m)), m);
}

TEST(LoadJson, MergeCommandNamesTheBadFileAndExitsWithOne) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("weft_load_json_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto write = [&](const char* name, const std::string& text) {
    const auto path = (dir / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  };
  const std::string good = write("good.json", to_json_text(sample_report(9)));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {write("truncated.json", "{\"tool\": \"weft-load\""), "invalid JSON: "},
      {write("empty.json", ""), "invalid JSON: "},
      {write("deep.json", std::string(100'000, '[')), "invalid JSON: nested more than 64 deep"},
      {write("other.json", "{\"name\": \"x\"}"), "not a weft-load report"},
      {write("negative.json",
             [] {
               auto d = to_json(sample_report(9));
               d["histogram"]["sum"] = -1;
               return d.dump();
             }()),
       "histogram.sum: expected a non-negative integer, got -1"},
  };
  for (const auto& [path, message] : bad) {
    std::ostringstream out, err;
    const std::vector<std::string> args = {"merge", good, path};
    EXPECT_EQ(run_cli(args, out, err), exit_usage) << path;
    EXPECT_EQ(err.str().rfind("weft-load: merge: " + path + ": " + message, 0), 0u) << err.str();
    EXPECT_EQ(out.str(), "");
  }
  std::ostringstream out, err;
  const std::vector<std::string> args = {"merge", good, good, "--quiet"};
  EXPECT_EQ(run_cli(args, out, err), exit_ok) << err.str();
  std::filesystem::remove_all(dir);
}

}  // namespace
