// weft-load: parsing of durations, URLs, --fail-if thresholds and the
// command line (every option, and the message naming a bad one).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "duration.hpp"
#include "options.hpp"
#include "report.hpp"
#include "threshold.hpp"
#include "url.hpp"

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

}  // namespace
