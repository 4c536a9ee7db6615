// weft-load: parsing of durations, URLs, thresholds and the command line;
// the latency histogram (accuracy against exact percentiles, lossless
// merge); JSON round trips and merge of reports; the HTTP response reader
// (Content-Length, chunked, close-delimited, garbage); runs of the load
// loop against the built-in server (closed model) and a deliberately slow
// server (open model, coordinated-omission correction); the exit codes, in
// process and, when the tool is built, of the weft-load binary. Loopback
// addresses only; every run lasts a few hundred milliseconds.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "cli.hpp"
#include "duration.hpp"
#include "histogram.hpp"
#include "http_client.hpp"
#include "json.hpp"
#include "load.hpp"
#include "options.hpp"
#include "report.hpp"
#include "server.hpp"
#include "test_support.hpp"
#include "threshold.hpp"
#include "url.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using namespace weft::load;
using std::chrono::nanoseconds;

// ---- durations, URLs, thresholds ------------------------------------------------------------

TEST(LoadDuration, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("10s"), 10s);
  EXPECT_EQ(parse_duration("2m"), 120s);
  EXPECT_EQ(parse_duration("1h"), 3600s);
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("250us"), 250us);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("0s"), 0s);
}

TEST(LoadDuration, RejectsWhatIsNotADuration) {
  for (const char* bad : {"", "10", "s", "10x", "-1s", "1.2.3s", "10 s", "1e3s", "99999999h"}) {
    EXPECT_THROW(parse_duration(bad), std::invalid_argument) << bad;
  }
}

TEST(LoadDuration, FormatsWithThreeDigits) {
  EXPECT_EQ(format_duration(812ns), "812ns");
  EXPECT_EQ(format_duration(31200ns), "31.2us");
  EXPECT_EQ(format_duration(1250us), "1.25ms");
  EXPECT_EQ(format_duration(2s), "2.00s");
  EXPECT_EQ(format_duration(3min), "3.00m");
}

TEST(LoadUrl, ParsesHostPortAndTarget) {
  const url a = parse_url("http://example.com:8080/a/b?x=1#frag");
  EXPECT_EQ(a.host, "example.com");
  EXPECT_EQ(a.port, 8080);
  EXPECT_EQ(a.target, "/a/b?x=1");
  EXPECT_EQ(a.authority(), "example.com:8080");

  const url b = parse_url("http://127.0.0.1");
  EXPECT_EQ(b.host, "127.0.0.1");
  EXPECT_EQ(b.port, 80);
  EXPECT_EQ(b.target, "/");
  EXPECT_EQ(b.str(), "http://127.0.0.1/");

  const url c = parse_url("HTTP://[::1]:9000?q");
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 9000);
  EXPECT_EQ(c.target, "/?q");
  EXPECT_EQ(c.authority(), "[::1]:9000");

  EXPECT_EQ(parse_url("localhost:81/x").port, 81);  // the scheme may be left out
}

TEST(LoadUrl, RejectsWithAReason) {
  const auto reason = [](const char* text) {
    try {
      parse_url(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(reason("https://example.com/").find("https is not supported"), std::string::npos);
  EXPECT_NE(reason("ftp://example.com/").find("unsupported scheme"), std::string::npos);
  EXPECT_NE(reason("http:///path").find("empty host"), std::string::npos);
  EXPECT_NE(reason("http://host:0/").find("bad port"), std::string::npos);
  EXPECT_NE(reason("http://host:65536/").find("bad port"), std::string::npos);
  EXPECT_NE(reason("http://host:x/").find("bad port"), std::string::npos);
  EXPECT_NE(reason("http://user@host/").find("user info"), std::string::npos);
  EXPECT_NE(reason("http://[::1/").find("unterminated"), std::string::npos);
  EXPECT_NE(reason("http://ho st/").find("spaces"), std::string::npos);
  EXPECT_NE(reason("http://h%st/").find("bad character"), std::string::npos);
}

TEST(LoadThreshold, ParsesEveryMetric) {
  const threshold p99 = parse_threshold("p99>50ms");
  EXPECT_EQ(p99.what, threshold::metric::p99);
  EXPECT_EQ(p99.op, threshold::comparison::greater);
  EXPECT_DOUBLE_EQ(p99.limit, 50e6);

  const threshold errs = parse_threshold("errors > 1%");
  EXPECT_EQ(errs.what, threshold::metric::errors);
  EXPECT_TRUE(errs.percent);
  EXPECT_DOUBLE_EQ(errs.limit, 1.0);

  const threshold rps = parse_threshold("rps<=1000");
  EXPECT_EQ(rps.what, threshold::metric::rps);
  EXPECT_EQ(rps.op, threshold::comparison::less_equal);
  EXPECT_DOUBLE_EQ(rps.limit, 1000.0);

  EXPECT_EQ(parse_threshold("p50>=1s").op, threshold::comparison::greater_equal);
  EXPECT_EQ(parse_threshold("p90<2ms").what, threshold::metric::p90);
  EXPECT_EQ(parse_threshold("p999>1ms").what, threshold::metric::p999);
  EXPECT_EQ(parse_threshold("max>1ms").what, threshold::metric::max);
  EXPECT_EQ(parse_threshold("mean>1ms").what, threshold::metric::mean);
  EXPECT_FALSE(parse_threshold("errors>0").percent);
  EXPECT_EQ(parse_threshold("requests<10").what, threshold::metric::requests);
}

TEST(LoadThreshold, RejectsMalformedConditions) {
  for (const char* bad :
       {"p99", "p99=5ms", "p98>5ms", "p99>50", "p99>>5ms", "errors>x", "rps<-1", "rps<", ">5ms"}) {
    EXPECT_THROW(parse_threshold(bad), std::invalid_argument) << bad;
  }
}

TEST(LoadThreshold, ChecksAReport) {
  report r;
  r.requests = 99;
  r.errors[static_cast<std::size_t>(error_kind::timeout)] = 1;  // 1% of 100 attempts
  r.rps = 500;
  for (int i = 1; i <= 100; ++i) r.latency.record(static_cast<std::uint64_t>(i) * 1'000'000);

  EXPECT_TRUE(check(parse_threshold("p99>50ms"), r).has_value());
  EXPECT_FALSE(check(parse_threshold("p99>200ms"), r).has_value());
  EXPECT_TRUE(check(parse_threshold("errors>0.5%"), r).has_value());
  EXPECT_FALSE(check(parse_threshold("errors>1%"), r).has_value());  // exactly 1%: holds
  EXPECT_TRUE(check(parse_threshold("errors>=1%"), r).has_value());
  EXPECT_TRUE(check(parse_threshold("errors>0"), r).has_value());
  EXPECT_TRUE(check(parse_threshold("rps<1000"), r).has_value());
  EXPECT_FALSE(check(parse_threshold("rps<100"), r).has_value());
  EXPECT_TRUE(check(parse_threshold("max>=100ms"), r).has_value());
  const auto message = check(parse_threshold("p99>50ms"), r);
  ASSERT_TRUE(message.has_value());
  EXPECT_NE(message->find("p99 = 99"), std::string::npos) << *message;
}

// ---- the command line -----------------------------------------------------------------------

command parse(std::vector<std::string> args) { return parse_command_line(args); }

std::string usage_message(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const usage_error& e) {
    return e.what();
  }
  return "accepted";
}

TEST(LoadOptions, ParsesARun) {
  const command c = parse({"http://127.0.0.1:8080/x",
                           "-c",
                           "8",
                           "--duration=300ms",
                           "-r100",
                           "-w",
                           "2",
                           "-t",
                           "1s",
                           "-m",
                           "POST",
                           "-H",
                           "X-A: 1",
                           "--header",
                           "X-B: 2",
                           "-b",
                           "hi",
                           "--json",
                           "out.json",
                           "--fail-if",
                           "p99>5ms",
                           "--quiet"});
  const auto& o = std::get<run_options>(c);
  ASSERT_TRUE(o.target.has_value());
  EXPECT_EQ(o.target->port, 8080);
  EXPECT_EQ(o.connections, 8u);
  EXPECT_EQ(o.duration, 300ms);
  EXPECT_DOUBLE_EQ(o.rate, 100.0);
  EXPECT_EQ(o.workers, 2u);
  EXPECT_EQ(o.timeout, 1s);
  EXPECT_EQ(o.request.method, "POST");
  EXPECT_EQ(o.request.headers, (std::vector<std::string>{"X-A: 1", "X-B: 2"}));
  EXPECT_EQ(o.request.body, "hi");
  EXPECT_EQ(o.output.json_path, "out.json");
  EXPECT_EQ(o.output.fail_if.size(), 1u);
  EXPECT_TRUE(o.output.quiet);

  const auto d = std::get<run_options>(parse({}));
  EXPECT_FALSE(d.target.has_value());  // the built-in server
  EXPECT_EQ(d.connections, 64u);
  EXPECT_EQ(d.duration, 10s);
  EXPECT_EQ(d.rate, 0.0);
  EXPECT_EQ(d.timeout, 5s);

  EXPECT_EQ(std::get<merge_options>(parse({"merge", "a.json", "b.json"})).files.size(), 2u);
  EXPECT_EQ(std::get<serve_options>(parse({"serve", "--port", "0"})).port, 0);
  EXPECT_NE(std::get<info_request>(parse({"--help"})).text.find("--fail-if"), std::string::npos);
}

TEST(LoadOptions, BadArgumentsNameTheOption) {
  EXPECT_NE(usage_message({"-c", "0"}).find("-connections"), std::string::npos);
  EXPECT_NE(usage_message({"-c", "many"}).find("not a whole number"), std::string::npos);
  EXPECT_NE(usage_message({"--duration", "5x"}).find("--duration"), std::string::npos);
  EXPECT_NE(usage_message({"-d", "0s"}).find("--duration"), std::string::npos);
  EXPECT_NE(usage_message({"--rate", "0"}).find("--rate"), std::string::npos);
  EXPECT_NE(usage_message({"--timeout"}).find("--timeout needs a value"), std::string::npos);
  EXPECT_NE(usage_message({"-w", "100000"}).find("--workers"), std::string::npos);
  EXPECT_NE(usage_message({"--fail-if", "p99>>5ms"}).find("--fail-if"), std::string::npos);
  EXPECT_NE(usage_message({"-H", "no colon"}).find("--header"), std::string::npos);
  EXPECT_NE(usage_message({"-m", "GE T"}).find("--method"), std::string::npos);
  EXPECT_NE(usage_message({"--bogus"}).find("unknown option '--bogus'"), std::string::npos);
  EXPECT_NE(usage_message({"--quiet=yes"}).find("takes no value"), std::string::npos);
  EXPECT_NE(usage_message({"ftp://x/"}).find("bad URL"), std::string::npos);
  EXPECT_NE(usage_message({"http://a/", "http://b/"}).find("more than one URL"), std::string::npos);
  EXPECT_NE(usage_message({"merge"}).find("no report files"), std::string::npos);
  EXPECT_NE(usage_message({"serve", "x"}).find("unexpected argument"), std::string::npos);
}

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

// ---- JSON and reports -----------------------------------------------------------------------

report sample_report(std::uint64_t seed) {
  report r;
  r.target = "http://127.0.0.1:8080/";
  r.model = "closed";
  r.connections = 8;
  r.workers = 2;
  r.duration_s = 1.5;
  r.bytes = 123456789;
  r.connects = 8;
  r.errors[static_cast<std::size_t>(error_kind::timeout)] = seed;
  r.errors[static_cast<std::size_t>(error_kind::parse)] = 2;
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> latency(12.0, 1.0);
  for (int i = 0; i < 10'000; ++i) {
    r.latency.record(static_cast<std::uint64_t>(latency(rng)));
    ++r.status[i % 10 == 0 ? 503 : 200];
  }
  r.requests = 10'000;
  r.rps = static_cast<double>(r.requests) / r.duration_s;
  return r;
}

void expect_same(const report& a, const report& b) {
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.connections, b.connections);
  EXPECT_EQ(a.rate, b.rate);
  EXPECT_EQ(a.workers, b.workers);
  EXPECT_EQ(a.duration_s, b.duration_s);
  EXPECT_EQ(a.requests, b.requests);
  EXPECT_EQ(a.rps, b.rps);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.connects, b.connects);
  EXPECT_EQ(a.errors, b.errors);
  EXPECT_EQ(a.status, b.status);
  EXPECT_TRUE(a.latency == b.latency);
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

// ---- the HTTP response reader ---------------------------------------------------------------

// Serves `text` `chunk` bytes per read, then end of stream.
class string_source final : public byte_source {
 public:
  string_source(std::string text, std::size_t chunk) : text_(std::move(text)), chunk_(chunk) {}
  std::size_t read_some(std::span<char> buf) override {
    const std::size_t n = std::min({buf.size(), chunk_, text_.size() - pos_});
    std::copy_n(text_.data() + pos_, n, buf.data());
    pos_ += n;
    return n;
  }

 private:
  std::string text_;
  std::size_t chunk_;
  std::size_t pos_ = 0;
};

TEST(LoadHttp, ReadsLengthChunkedAndCloseDelimitedResponses) {
  const std::string stream =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
      "HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\n"
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.0 200 OK\r\n\r\nuntil the end";
  for (const std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
    string_source in(stream, chunk);
    response_reader reader(64);  // small: lines and bodies cross buffer refills
    const response a = reader.read(in, false);
    EXPECT_EQ(a.status, 200);
    EXPECT_TRUE(a.keep_alive);
    const response b = reader.read(in, false);
    EXPECT_EQ(b.status, 404);
    EXPECT_TRUE(b.keep_alive);
    EXPECT_EQ(reader.read(in, false).status, 204);
    const response d = reader.read(in, false);
    EXPECT_EQ(d.status, 200);
    EXPECT_FALSE(d.keep_alive);  // HTTP/1.0, no length: ends with the connection
    EXPECT_THROW(reader.read(in, false), peer_closed) << chunk;
  }
}

TEST(LoadHttp, HeadAndConnectionClose) {
  string_source in(
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
      4096);
  response_reader reader;
  EXPECT_TRUE(reader.read(in, true).keep_alive);  // HEAD: no body despite the length
  EXPECT_FALSE(reader.read(in, true).keep_alive);
}

TEST(LoadHttp, GarbageAndTruncationAreErrors) {
  const auto outcome = [](const std::string& text) {
    string_source in(text, 3);
    response_reader reader(256);
    try {
      reader.read(in, false);
    } catch (const protocol_error&) {
      return std::string("parse");
    } catch (const peer_closed&) {
      return std::string("closed");
    }
    return std::string("ok");
  };
  EXPECT_EQ(outcome("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"), "ok");
  EXPECT_EQ(outcome("garbage\r\n\r\n"), "parse");
  EXPECT_EQ(outcome("HTTP/1.1 2x0 OK\r\n\r\n"), "parse");
  EXPECT_EQ(outcome("HTTP/1.1 999 What\r\n\r\n"), "parse");
  EXPECT_EQ(outcome("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"), "parse");
  EXPECT_EQ(outcome("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), "parse");
  EXPECT_EQ(outcome("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), "parse");
  EXPECT_EQ(outcome("HTTP/1.1 200 OK\r\n" + std::string(300, 'a')), "parse");  // line too long
  EXPECT_EQ(outcome("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"), "closed");
  EXPECT_EQ(outcome("HTTP/1.1 200 OK\r\n"), "closed");
  EXPECT_EQ(outcome(""), "closed");
}

TEST(LoadHttp, BuildsTheRequest) {
  const url u = parse_url("http://example.com:8080/p?q=1");
  EXPECT_EQ(build_request(u, {}),
            "GET /p?q=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: weft-load\r\n\r\n");
  const std::string post = build_request(u, {"POST", {"Host: other", "X: y"}, "body"});
  EXPECT_EQ(post,
            "POST /p?q=1 HTTP/1.1\r\nUser-Agent: weft-load\r\nHost: other\r\nX: y\r\n"
            "Content-Length: 4\r\n\r\nbody");
}

#ifdef WEFT_TEST_SANITIZED
// Sanitized code on a busy CI machine runs several times slower: the runs
// last longer so that they still see traffic, and the asserts do not change.
constexpr int run_scale = 3;
#else
constexpr int run_scale = 1;
#endif

// ---- runs -----------------------------------------------------------------------------------

TEST(LoadRun, ClosedModelAgainstTheBuiltInServer) {
  weft::runtime rt(weft::options{.workers = 2});
  http_server server(rt, "127.0.0.1", 0);
  load_plan plan;
  plan.target = url{"127.0.0.1", server.port(), "/"};
  plan.request = build_request(plan.target, {});
  plan.connections = 8;
  plan.duration = 300ms * run_scale;
  const report r = run_load(rt, plan);
  server.stop();

  EXPECT_GT(r.requests, 0u);
  EXPECT_EQ(r.error_total(), 0u);
  EXPECT_EQ(r.status.size(), 1u);
  EXPECT_EQ(r.status.at(200), r.requests);
  EXPECT_EQ(r.latency.count(), r.requests);
  EXPECT_EQ(r.connects, 8u);  // keep-alive: one connection per user
  EXPECT_GE(server.requests(), r.requests);
  EXPECT_EQ(r.model, "closed");
  EXPECT_DOUBLE_EQ(r.duration_s, 0.3 * run_scale);
  EXPECT_GT(r.bytes, r.requests * http_server::body.size());
}

// Runs `answer` on each connection it accepts, then closes the connection.
class scripted_server {
 public:
  scripted_server(weft::runtime& rt, std::function<void(weft::net::tcp_stream&)> answer)
      : listener_(weft::net::tcp_listener::bind("127.0.0.1", 0)), answer_(std::move(answer)) {
    acceptor_ = rt.spawn([this] {
      std::vector<weft::join_handle<void>> conns;
      for (;;) {
        weft::net::tcp_stream s;
        try {
          s = listener_.accept();
        } catch (const std::system_error&) {
          break;
        }
        conns.push_back(weft::spawn([this, st = std::move(s)]() mutable {
          weft::net::tcp_stream conn = std::move(st);  // closed when the fiber ends
          try {
            answer_(conn);
          } catch (const std::system_error&) {
          }
        }));
      }
      for (auto& c : conns) c.join();
    });
  }
  ~scripted_server() {
    listener_.close();
    acceptor_.join();
  }
  [[nodiscard]] std::uint16_t port() const { return listener_.local_port(); }

 private:
  weft::net::tcp_listener listener_;
  std::function<void(weft::net::tcp_stream&)> answer_;
  weft::join_handle<void> acceptor_;
};

// Answers each request on a connection `delay` after reading it, one at a
// time: a server that takes `delay` per request whatever the offered load.
// (Run by scripted_server, which ends the connection on a socket error: the
// client drops it at the end of its run.)
void answer_slowly(weft::net::tcp_stream& s, nanoseconds delay) {
  static const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  std::string pending;
  char buf[1024];
  for (;;) {
    const std::size_t n = s.read_some(std::as_writable_bytes(std::span(buf)));
    if (n == 0) return;
    pending.append(buf, n);
    for (auto end = pending.find("\r\n\r\n"); end != std::string::npos;
         end = pending.find("\r\n\r\n")) {
      pending.erase(0, end + 4);
      weft::this_fiber::sleep_for(delay);
      s.write_all(std::as_bytes(std::span(response)));
    }
  }
}

TEST(LoadRun, OpenModelCountsTheQueueingDelay) {
  // One user asked for 100 requests/s (one every 10 ms) of a server that
  // takes 40 ms each. The closed model sees ~40 ms per request; the open
  // model measures from the intended send times, so request k (intended at
  // 10k ms, finished no earlier than 40(k+1) ms) shows at least
  // 40 + 30k ms: the queue the server's slowness built up.
  constexpr auto delay = 40ms;
  constexpr auto interval = 10ms;
  weft::runtime rt(weft::options{.workers = 2});
  scripted_server server(rt, [delay](weft::net::tcp_stream& s) { answer_slowly(s, delay); });
  load_plan plan;
  plan.target = url{"127.0.0.1", server.port(), "/"};
  plan.request = build_request(plan.target, {});
  plan.connections = 1;
  plan.duration = 400ms * run_scale;

  const report closed = run_load(rt, plan);
  plan.rate = 1.0 / std::chrono::duration<double>(interval).count();
  const report open = run_load(rt, plan);

  for (const report* r : {&closed, &open}) {
    EXPECT_EQ(r->error_total(), 0u);
    EXPECT_GE(r->requests, 3u);
    // Each takes 40 ms or more: the server, not the rate, is the limit.
    EXPECT_LE(r->requests, static_cast<std::uint64_t>(plan.duration / delay));
    EXPECT_GE(r->latency.min(), static_cast<std::uint64_t>(nanoseconds(delay).count()));
  }
  EXPECT_EQ(open.model, "open");
  const auto k = static_cast<std::int64_t>(open.requests) - 1;  // the last request's index
  const auto bound = static_cast<double>(nanoseconds(delay + (delay - interval) * k).count());
  EXPECT_GE(static_cast<double>(open.latency.max()), bound);
  EXPECT_GT(open.latency.quantile(0.9), closed.latency.quantile(0.9));
  EXPECT_GT(open.latency.mean(), closed.latency.mean());
}

TEST(LoadRun, RefusedConnectionsAreCountedAsConnectErrors) {
  std::uint16_t port = 0;
  {
    auto l = weft::net::tcp_listener::bind("127.0.0.1", 0);
    port = l.local_port();
  }  // closed: nothing listens there any more
  weft::runtime rt(weft::options{.workers = 2});
  load_plan plan;
  plan.target = url{"127.0.0.1", port, "/"};
  plan.request = build_request(plan.target, {});
  plan.connections = 2;
  plan.duration = 100ms * run_scale;
  const report r = run_load(rt, plan);
  EXPECT_EQ(r.requests, 0u);
  EXPECT_EQ(r.connects, 0u);
  EXPECT_GT(r.errors[static_cast<std::size_t>(error_kind::connect)], 0u);
  EXPECT_EQ(r.error_total(), r.errors[static_cast<std::size_t>(error_kind::connect)]);
}

// Reads until the end of a request head; false if the peer closed first.
bool read_request(weft::net::tcp_stream& s) {
  std::string got;
  char buf[512];
  while (got.find("\r\n\r\n") == std::string::npos) {
    const std::size_t n = s.read_some(std::as_writable_bytes(std::span(buf)));
    if (n == 0) return false;
    got.append(buf, n);
  }
  return true;
}

TEST(LoadRun, MisbehavingServersAreCountedByKindAndTheRunGoesOn) {
  weft::runtime rt(weft::options{.workers = 2});
  const auto run_against = [&](std::function<void(weft::net::tcp_stream&)> answer,
                               nanoseconds timeout) {
    scripted_server server(rt, std::move(answer));
    load_plan plan;
    plan.target = url{"127.0.0.1", server.port(), "/"};
    plan.request = build_request(plan.target, {});
    plan.connections = 2;
    plan.duration = 200ms * run_scale;
    plan.timeout = timeout;
    return run_load(rt, plan);
  };
  const auto send = [](weft::net::tcp_stream& s, std::string_view text) {
    s.write_all(std::as_bytes(std::span(text.data(), text.size())));
  };
  const auto count = [](const report& r, error_kind k) {
    return r.errors[static_cast<std::size_t>(k)];
  };

  const report garbage = run_against(
      [&](weft::net::tcp_stream& s) {
        if (read_request(s)) send(s, "SSH-2.0-OpenSSH\r\n\r\n");
      },
      5s);
  EXPECT_GT(count(garbage, error_kind::parse), 0u);
  EXPECT_EQ(garbage.requests, 0u);
  EXPECT_GT(garbage.connects, 2u);  // each error drops the connection; users reconnect

  const report truncated = run_against(
      [&](weft::net::tcp_stream& s) {
        if (read_request(s)) send(s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
      },
      5s);
  EXPECT_GT(count(truncated, error_kind::closed), 0u) << format_report(truncated);
  EXPECT_EQ(truncated.requests, 0u);

  // Every other connection answers once properly (chunked), then stalls:
  // timeouts are errors, the good responses still count.
  std::atomic<int> connections{0};
  const report stalled = run_against(
      [&](weft::net::tcp_stream& s) {
        const bool good = connections.fetch_add(1) % 2 == 0;
        if (!read_request(s)) return;
        if (good)
          send(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
        while (read_request(s)) {
        }  // never answers again
      },
      30ms);
  EXPECT_GT(count(stalled, error_kind::timeout), 0u);
  EXPECT_GT(stalled.requests, 0u);
  EXPECT_EQ(stalled.status.at(200), stalled.requests);
}

// ---- the program's exit codes ---------------------------------------------------------------

struct cli_result {
  int code;
  std::string out;
  std::string err;
};

cli_result cli(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = run_cli(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(LoadCli, RunsTheBuiltInServerAndWritesJson) {
  const cli_result r = cli({"-c", "4", "-d", std::to_string(200 * run_scale) + "ms", "-w", "2",
                            "--quiet", "--json", "-", "--fail-if", "errors>0"});
  ASSERT_EQ(r.code, exit_ok) << r.err;
  const report rep = from_json(json::parse(r.out));  // stdout holds only the JSON
  EXPECT_GT(rep.requests, 0u);
  EXPECT_EQ(rep.status.at(200), rep.requests);
  EXPECT_NE(r.err.find("Requests/s"), std::string::npos);  // the table went to stderr
}

TEST(LoadCli, CrossedThresholdExitsWithThree) {
  const cli_result r = cli({"-c", "2", "-d", std::to_string(200 * run_scale) + "ms", "-w", "1",
                            "--quiet", "--fail-if", "rps<1000000000", "--fail-if", "p99>1h"});
  EXPECT_EQ(r.code, exit_threshold);
  EXPECT_NE(r.err.find("rps<1000000000 crossed"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("p99>1h"), std::string::npos) << r.err;  // that one held
  EXPECT_NE(r.out.find("Latency"), std::string::npos);
}

TEST(LoadCli, BadArgumentsExitWithOne) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-c", "0"}, {"--duration", "5x"}, {"https://127.0.0.1/"}, {"--bogus"}, {"-d"}}) {
    const cli_result r = cli(args);
    EXPECT_EQ(r.code, exit_usage) << args.front();
    EXPECT_EQ(r.err.rfind("weft-load: ", 0), 0u) << r.err;
  }
  EXPECT_EQ(cli({"--help"}).code, exit_ok);
}

TEST(LoadCli, UnreachableTargetExitsWithTwo) {
  std::uint16_t port = 0;
  {
    auto l = weft::net::tcp_listener::bind("127.0.0.1", 0);
    port = l.local_port();
  }
  const cli_result r =
      cli({"http://127.0.0.1:" + std::to_string(port) + "/", "-d", "200ms", "--quiet"});
  EXPECT_EQ(r.code, exit_unreachable);
  EXPECT_NE(r.err.find("cannot reach 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << r.err;
}

TEST(LoadCli, MergesReportFiles) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("weft_load_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const report a = sample_report(11);
  const report b = sample_report(12);
  const auto path_a = (dir / "a.json").string();
  const auto path_b = (dir / "b.json").string();
  std::ofstream(path_a) << json::write(to_json(a));
  std::ofstream(path_b) << json::write(to_json(b));
  std::ofstream(dir / "bad.json") << "{\"tool\": \"weft-load\"";

  const cli_result r = cli({"merge", path_a, path_b, "--json", "-"});
  ASSERT_EQ(r.code, exit_ok) << r.err;
  expect_same(from_json(json::parse(r.out)), merge({a, b}));

  EXPECT_EQ(cli({"merge", path_a, path_b, "--quiet", "--fail-if", "requests<1000000"}).code,
            exit_threshold);
  EXPECT_EQ(cli({"merge", path_a, (dir / "bad.json").string()}).code, exit_usage);
  EXPECT_EQ(cli({"merge", (dir / "missing.json").string()}).code, exit_usage);
  std::filesystem::remove_all(dir);
}

#ifdef WEFT_LOAD_EXE
int run_binary(const std::string& args) {
  const std::string command = std::string(WEFT_LOAD_EXE) + " " + args + " >/dev/null 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(LoadBinary, ExitCodes) {
  EXPECT_EQ(run_binary("--help"), 0);
  EXPECT_EQ(run_binary("-c 0"), 1);
  EXPECT_EQ(run_binary("ftp://127.0.0.1/"), 1);
  EXPECT_EQ(run_binary("-c 4 -d 200ms -w 2 --quiet"), 0);
  EXPECT_EQ(run_binary("-c 4 -d 200ms -w 2 --quiet --fail-if 'rps<1000000000'"), 3);
}
#endif

}  // namespace
