// weft-load: the latency histogram (accuracy against exact percentiles on
// random data, lossless merge) and the JSON report (exact round trip,
// standard JSON in, malformed JSON rejected, merge of runs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "json.hpp"
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

TEST(LoadJson, ReportRoundTripsExactly) {
  const report r = sample_report(3);
  const std::string text = json::write(to_json(r));
  const json::value v = json::parse(text);
  expect_same(from_json(v), r);
  // The fields the contract names are there.
  for (const char* key :
       {"requests", "errors", "status", "duration_s", "rps", "latency_us", "histogram"}) {
    EXPECT_NE(v.find(key), nullptr) << key;
  }
  for (const char* key : {"mean", "p50", "p90", "p99", "p999", "max"}) {
    EXPECT_NE(v.at("latency_us").find(key), nullptr) << key;
  }
  EXPECT_EQ(v.at("status").at("503").as_uint(), 1000u);
  EXPECT_EQ(v.at("errors").at("timeout").as_uint(), 3u);
  EXPECT_NEAR(v.at("latency_us").at("p50").as_double(), r.latency.quantile(0.5) / 1e3, 1e-9);
}

TEST(LoadJson, ParsesStandardJsonAndRejectsMalformed) {
  const json::value v = json::parse(
      R"( {"s": "a\"b\\c\n\u00e9\ud83d\ude00", "n": -1.5e3, "u": 18446744073709551615,
           "t": true, "f": false, "z": null, "a": [1, [2, 3], {}], "o": {"k": []}} )");
  EXPECT_EQ(v.at("s").as_string(), "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(v.at("n").as_double(), -1500.0);
  EXPECT_EQ(v.at("u").as_uint(), UINT64_MAX);
  EXPECT_TRUE(v.at("t").as_bool());
  EXPECT_FALSE(v.at("f").as_bool());
  EXPECT_TRUE(v.at("z").is_null());
  EXPECT_EQ(v.at("a").as_array().size(), 3u);
  EXPECT_THROW((void)v.at("n").as_uint(), json::error);
  EXPECT_THROW((void)v.at("missing"), json::error);
  EXPECT_EQ(json::parse(json::write(v)).at("s").as_string(), v.at("s").as_string());
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"abc", "tru", "[1] x",
                          "\"\\ud800\"", "{\"a\":1,}", "\"\x01\""}) {
    EXPECT_THROW(json::parse(bad), json::error) << bad;
  }
  EXPECT_THROW(json::parse(std::string(100, '[') + std::string(100, ']')), json::error);
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
  // Through JSON, as `weft-load merge` reads them: the same.
  expect_same(merge({from_json(json::parse(json::write(to_json(a)))),
                     from_json(json::parse(json::write(to_json(b))))}),
              m);
}

}  // namespace
