// weft-load: parsing of durations, URLs, --fail-if thresholds and the
// command line (every option, and the message naming a bad one).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
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

  const url d = parse_url("HTTPS://example.com/s");
  EXPECT_TRUE(d.tls);
  EXPECT_EQ(d.port, 443);
  EXPECT_EQ(d.authority(), "example.com");
  EXPECT_EQ(d.str(), "https://example.com/s");
  const url e = parse_url("https://example.com:80/");
  EXPECT_EQ(e.authority(), "example.com:80");
  EXPECT_FALSE(parse_url("example.com").tls);
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

run_options parse_run(std::vector<std::string> args) {
  return std::get<run_options>(parse(std::move(args)));
}

std::string usage_message(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const usage_error& e) {
    return e.what();
  }
  return "accepted";
}

// The message for `args` contains `part` (typically the option's name).
void expect_message(std::vector<std::string> args, const std::string& part) {
  std::string joined;
  for (const std::string& a : args) joined += "'" + a + "' ";
  const std::string message = usage_message(std::move(args));
  EXPECT_NE(message.find(part), std::string::npos)
      << joined << "gave: " << message << "; expected to contain: " << part;
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
  EXPECT_EQ(o.target->target, "/x");
  EXPECT_EQ(o.connections, 8u);
  EXPECT_EQ(o.duration, 300ms);
  EXPECT_DOUBLE_EQ(o.rate, 100.0);
  EXPECT_EQ(o.workers, 2u);
  EXPECT_EQ(o.timeout, 1s);
  EXPECT_EQ(o.request.method, "POST");
  EXPECT_EQ(o.request.headers, (std::vector<std::string>{"X-A: 1", "X-B: 2"}));
  EXPECT_EQ(o.request.body, "hi");
  EXPECT_EQ(o.output.json_path, "out.json");
  ASSERT_EQ(o.output.fail_if.size(), 1u);
  EXPECT_EQ(o.output.fail_if[0].what, threshold::metric::p99);
  EXPECT_TRUE(o.output.quiet);
  EXPECT_FALSE(o.start_at.has_value());
  const run_options at = parse_run({"--start-at", "1764750000.5"});
  ASSERT_TRUE(at.start_at.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(at.start_at->time_since_epoch())
                .count(),
            1764750000500);
}

TEST(LoadOptions, DefaultsWithoutArguments) {
  const run_options d = parse_run({});
  EXPECT_FALSE(d.target.has_value());  // the built-in server
  EXPECT_EQ(d.connections, 64u);
  EXPECT_EQ(d.duration, 10s);
  EXPECT_EQ(d.rate, 0.0);
  EXPECT_EQ(d.workers, 0u);
  EXPECT_EQ(d.timeout, 5s);
  EXPECT_EQ(d.request.method, "GET");
  EXPECT_TRUE(d.request.headers.empty());
  EXPECT_TRUE(d.request.body.empty());
  EXPECT_FALSE(d.output.json_path.has_value());
  EXPECT_TRUE(d.output.fail_if.empty());
  EXPECT_FALSE(d.output.quiet);
}

TEST(LoadOptions, EveryLongName) {
  const run_options o = parse_run(
      {"--connections", "3",     "--duration", "2m",        "--rate",    "2.5",    "--workers", "4",
       "--timeout",     "250ms", "--method",   "HEAD",      "--header",  "K: v",   "--body",    "b",
       "--json",        "-",     "--fail-if",  "errors>1%", "--fail-if", "rps<10", "--quiet"});
  EXPECT_EQ(o.connections, 3u);
  EXPECT_EQ(o.duration, 120s);
  EXPECT_DOUBLE_EQ(o.rate, 2.5);
  EXPECT_EQ(o.workers, 4u);
  EXPECT_EQ(o.timeout, 250ms);
  EXPECT_EQ(o.request.method, "HEAD");
  EXPECT_EQ(o.request.headers, (std::vector<std::string>{"K: v"}));
  EXPECT_EQ(o.request.body, "b");
  EXPECT_EQ(o.output.json_path, "-");  // stdout
  ASSERT_EQ(o.output.fail_if.size(), 2u);
  EXPECT_EQ(o.output.fail_if[0].what, threshold::metric::errors);
  EXPECT_EQ(o.output.fail_if[1].what, threshold::metric::rps);
  EXPECT_TRUE(o.output.quiet);
}

TEST(LoadOptions, EveryShortNameAndAttachedValues) {
  const run_options o = parse_run(
      {"-c5", "-d1s", "-r", "10", "-w1", "-t2s", "-mPUT", "-HA: 1", "-bx=y", "-q", "localhost:81"});
  EXPECT_EQ(o.connections, 5u);
  EXPECT_EQ(o.duration, 1s);
  EXPECT_DOUBLE_EQ(o.rate, 10.0);
  EXPECT_EQ(o.workers, 1u);
  EXPECT_EQ(o.timeout, 2s);
  EXPECT_EQ(o.request.method, "PUT");
  EXPECT_EQ(o.request.headers, (std::vector<std::string>{"A: 1"}));
  EXPECT_EQ(o.request.body, "x=y");
  EXPECT_TRUE(o.output.quiet);
  ASSERT_TRUE(o.target.has_value());
  EXPECT_EQ(o.target->port, 81);

  const run_options e = parse_run({"--connections=6", "--workers=3", "--timeout=1m",
                                   "--method=DELETE", "--header=B: 2", "--body=--x",
                                   "--json=report.json", "--fail-if=p50>1s", "--rate=1e3"});
  EXPECT_EQ(e.connections, 6u);
  EXPECT_EQ(e.workers, 3u);
  EXPECT_EQ(e.timeout, 60s);
  EXPECT_EQ(e.request.method, "DELETE");
  EXPECT_EQ(e.request.headers, (std::vector<std::string>{"B: 2"}));
  EXPECT_EQ(e.request.body, "--x");  // a value that looks like an option, attached
  EXPECT_EQ(e.output.json_path, "report.json");
  ASSERT_EQ(e.output.fail_if.size(), 1u);
  EXPECT_EQ(e.output.fail_if[0].what, threshold::metric::p50);
  EXPECT_DOUBLE_EQ(e.rate, 1000.0);
}

TEST(LoadOptions, RepeatedOptionsLastWinsOrAddUp) {
  const run_options o = parse_run({"-c", "2", "-c", "3", "-H", "A: 1", "-H", "B: 2", "-H", "C: 3",
                                   "--json", "a.json", "--json=b.json", "-q", "-q"});
  EXPECT_EQ(o.connections, 3u);
  EXPECT_EQ(o.request.headers, (std::vector<std::string>{"A: 1", "B: 2", "C: 3"}));
  EXPECT_EQ(o.output.json_path, "b.json");
  EXPECT_TRUE(o.output.quiet);
}

TEST(LoadOptions, OptionsAndTheUrlInAnyOrder) {
  const run_options o = parse_run({"-c", "2", "http://h:9/p", "-q"});
  ASSERT_TRUE(o.target.has_value());
  EXPECT_EQ(o.target->host, "h");
  EXPECT_EQ(o.connections, 2u);
  EXPECT_TRUE(o.output.quiet);
}

TEST(LoadOptions, DoubleDashEndsTheOptions) {
  const run_options o = parse_run({"-c", "2", "--", "http://h/"});
  ASSERT_TRUE(o.target.has_value());
  EXPECT_EQ(o.target->host, "h");
  EXPECT_EQ(o.connections, 2u);
  // After "--", "-q" is an argument: a second URL, not the flag.
  expect_message({"--", "http://h/", "-q"}, "'-q'");
  // ... and --help the URL, not a request for help.
  const command h = parse({"--", "--help"});
  ASSERT_TRUE(std::holds_alternative<run_options>(h));
  EXPECT_EQ(std::get<run_options>(h).target->host, "--help");
  expect_message({"--", "ftp://x/"}, "bad URL 'ftp://x/'");
  expect_message({"--", "a", "b"}, "more than one URL given ('a' and 'b')");
  expect_message({"-q", "a", "--", "b"}, "more than one URL given ('a' and 'b')");

  const merge_options m =
      std::get<merge_options>(parse({"merge", "a.json", "-q", "--", "-b.json", "--", "merge"}));
  EXPECT_EQ(m.files, (std::vector<std::string>{"a.json", "-b.json", "--", "merge"}));
  EXPECT_TRUE(m.output.quiet);
  EXPECT_EQ(std::get<merge_options>(parse({"merge", "--", "-q"})).files,
            (std::vector<std::string>{"-q"}));
  expect_message({"serve", "--", "-p"}, "serve: unexpected argument '-p'");
  expect_message({"merge", "--json", "--", "a.json"}, "--json");  // "--" is not a value
}

TEST(LoadOptions, ParsesAMerge) {
  const merge_options m = std::get<merge_options>(parse({"merge", "a.json", "b.json"}));
  EXPECT_EQ(m.files, (std::vector<std::string>{"a.json", "b.json"}));
  EXPECT_FALSE(m.output.json_path.has_value());
  EXPECT_TRUE(m.output.fail_if.empty());
  EXPECT_FALSE(m.output.quiet);

  const merge_options o = std::get<merge_options>(parse(
      {"merge", "a.json", "--json", "all.json", "-", "--fail-if", "p99>5ms", "--quiet", "c.json"}));
  EXPECT_EQ(o.files, (std::vector<std::string>{"a.json", "-", "c.json"}));
  EXPECT_EQ(o.output.json_path, "all.json");
  EXPECT_EQ(o.output.fail_if.size(), 1u);
  EXPECT_TRUE(o.output.quiet);

  EXPECT_EQ(std::get<merge_options>(parse({"merge", "--json=-", "-q", "x"})).output.json_path, "-");
  // A file may be named like the other subcommand.
  EXPECT_EQ(std::get<merge_options>(parse({"merge", "serve"})).files,
            (std::vector<std::string>{"serve"}));
}

TEST(LoadOptions, ParsesAServe) {
  const serve_options d = std::get<serve_options>(parse({"serve"}));
  EXPECT_EQ(d.host, "127.0.0.1");
  EXPECT_EQ(d.port, 8080);
  EXPECT_EQ(d.workers, 0u);
  EXPECT_FALSE(d.duration.has_value());

  const serve_options o = std::get<serve_options>(
      parse({"serve", "--host", "0.0.0.0", "--port", "0", "-w", "2", "-d", "1s"}));
  EXPECT_EQ(o.host, "0.0.0.0");
  EXPECT_EQ(o.port, 0);
  EXPECT_EQ(o.workers, 2u);
  EXPECT_EQ(o.duration, 1s);

  const serve_options s = std::get<serve_options>(
      parse({"serve", "--host=::1", "-p9000", "--workers=3", "--duration=2m"}));
  EXPECT_EQ(s.host, "::1");
  EXPECT_EQ(s.port, 9000);
  EXPECT_EQ(s.workers, 3u);
  EXPECT_EQ(s.duration, 120s);
}

TEST(LoadOptions, HelpAndVersion) {
  const std::string help = usage_text();
  for (const char* part : {"URL",
                           "-c,--connections",
                           "-d,--duration",
                           "-r,--rate",
                           "-w,--workers",
                           "-t,--timeout",
                           "-m,--method",
                           "-H,--header",
                           "-b,--body",
                           "-k,--insecure",
                           "--cacert",
                           "--stage",
                           "--json",
                           "--fail-if",
                           "-q,--quiet",
                           "-h,--help",
                           "--version",
                           "merge",
                           "FILES",
                           "serve",
                           "--host",
                           "-p,--port",
                           "--tls-cert",
                           "--tls-key",
                           "Exit codes",
                           "0 ran",
                           "1 bad arguments",
                           "2 target unreachable",
                           "3 a --fail-if threshold"}) {
    EXPECT_NE(help.find(part), std::string::npos) << part << " missing from:\n" << help;
  }
  // Every option has a description: no option line ends right after its name.
  for (std::size_t at = help.find("\n  -"); at != std::string::npos;
       at = help.find("\n  -", at + 1)) {
    const std::string line = help.substr(at + 1, help.find('\n', at + 1) - at - 1);
    EXPECT_GT(line.size(), 27u) << "no description: " << line;
  }

  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"-h"},
                                             {"-c", "8", "--help"},
                                             {"http://x/", "-h", "-c", "0"},  // help wins
                                             {"--bogus", "-h"},
                                             {"merge", "--help"},
                                             {"serve", "-h"}}) {
    const command c = parse(args);
    ASSERT_TRUE(std::holds_alternative<info_request>(c)) << args.front();
    EXPECT_EQ(std::get<info_request>(c).text, help) << args.front();
  }

  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--version"}, {"-q", "--version"}, {"merge", "--version"}, {"serve", "--version"}}) {
    const command c = parse(args);
    ASSERT_TRUE(std::holds_alternative<info_request>(c)) << args.front();
    EXPECT_EQ(std::get<info_request>(c).text, "weft-load (weft 0.1.0)\n");
  }
}

TEST(LoadOptions, BadValuesNameTheOption) {
  expect_message({"-c", "0"}, "--connections: '0' is out of range (1..1000000)");
  expect_message({"-c", "1000001"}, "--connections: '1000001' is out of range");
  expect_message({"--connections", "99999999999"}, "--connections: '99999999999' is out of range");
  expect_message({"-c", "many"}, "--connections: 'many' is not a whole number");
  expect_message({"-c", "-1"}, "--connections: '-1' is not a whole number");
  expect_message({"-c", "2x"}, "--connections: '2x' is not a whole number");
  expect_message({"--duration", "5x"}, "--duration");
  expect_message({"-d", "10"}, "--duration");  // a unit is required
  expect_message({"-d", "0s"}, "--duration: must be more than zero");
  expect_message({"--rate", "0"}, "--rate: '0' is not a rate");
  expect_message({"-r", "-5"}, "--rate");
  expect_message({"-r", "inf"}, "--rate");
  expect_message({"-r", "2e9"}, "--rate");
  expect_message({"-w", "0"}, "--workers: '0' is out of range (1..1024)");
  expect_message({"-w", "100000"}, "--workers");
  expect_message({"-t", "0ms"}, "--timeout: must be more than zero");
  expect_message({"--timeout", "soon"}, "--timeout");
  expect_message({"--fail-if", "p99>>5ms"}, "--fail-if");
  expect_message({"-H", "no colon"}, "--header: 'no colon' is not a header");
  expect_message({"-H", ": empty name"}, "--header");
  expect_message({"-H", "Bad Name: x"}, "--header");
  expect_message({"-H", "X: a\r\nY: b"}, "--header");
  expect_message({"--start-at", "soon"}, "--start-at: 'soon' is not a Unix time");
  expect_message({"--start-at", "-5"}, "--start-at");
  expect_message({"--start-at", "0"}, "--start-at");
  expect_message({"--start-at", "17647x"}, "--start-at");
  expect_message({"-m", "GE T"}, "--method: 'GE T' is not an HTTP method");
  expect_message({"-m", ""}, "--method");
  expect_message({"--json", ""}, "--json: needs a file name");
  expect_message({"serve", "-p", "65536"}, "--port: '65536' is out of range (0..65535)");
  expect_message({"serve", "-w", "0"}, "--workers");
  expect_message({"serve", "-d", "0s"}, "--duration");
  expect_message({"merge", "a.json", "--fail-if", "nope"}, "--fail-if");
  expect_message({"merge", "a.json", "--json="}, "--json");
}

TEST(LoadOptions, MissingValuesNameTheOption) {
  for (const char* option : {"--connections", "--duration", "--rate", "--workers", "--timeout",
                             "--method", "--header", "--body", "--json", "--fail-if"}) {
    expect_message({option}, std::string(option) + " needs a value");
    expect_message({"-q", option}, std::string(option) + " needs a value");
  }
  expect_message({"-d"}, "--duration needs a value");
  expect_message({"-c", "1", "-H"}, "--header needs a value");
  expect_message({"--json="}, "--json needs a value");
  expect_message({"serve", "--port"}, "--port needs a value");
  expect_message({"serve", "--host"}, "--host needs a value");
  expect_message({"merge", "a.json", "--json"}, "--json needs a value");
  // The next argument is the value, whatever it looks like.
  expect_message({"-d", "-c", "4"}, "--duration: '-c' is not a duration");
  EXPECT_EQ(parse_run({"-b", "-x"}).request.body, "-x");
  EXPECT_EQ(parse_run({"--body", "--quiet"}).request.body, "--quiet");
  EXPECT_EQ(parse_run({"-b", "--help"}).request.body, "--help");
}

TEST(LoadOptions, BadArgumentsNameTheArgument) {
  expect_message({"--bogus"}, "unknown option '--bogus'");
  expect_message({"-x"}, "unknown option '-x'");
  expect_message({"-qx"}, "unknown option '-x'");
  expect_message({"http://a/", "--bogus=1", "-c", "2"}, "unknown option '--bogus=1'");
  expect_message({"--quiet=yes"}, "--quiet takes no value");
  expect_message({"--help=no"}, "--help takes no value");
  expect_message({"merge", "a.json", "--quiet=1"}, "--quiet takes no value");
  expect_message({"ftp://x/"}, "bad URL 'ftp://x/'");
  expect_message({""}, "bad URL ''");
  expect_message({"http://a/", "http://b/"},
                 "more than one URL given ('http://a/' and 'http://b/')");
  expect_message({"merge"}, "no report files");
  expect_message({"merge", "-q"}, "no report files");
  expect_message({"merge", "a.json", "-c", "4"}, "unknown option '-c'");
  expect_message({"merge", "a.json", "--bogus"}, "unknown option '--bogus'");
  expect_message({"serve", "x"}, "serve: unexpected argument 'x'");
  expect_message({"serve", "-c", "4"}, "unknown option '-c'");
  expect_message({"serve", "--json", "x"}, "unknown option '--json'");
  // The run's options before a subcommand are not the subcommand's.
  expect_message({"-c", "4", "merge", "a.json"},
                 "--connections is not an option of 'weft-load merge'");
  expect_message({"--json", "x", "merge", "a.json"}, "--json must come after 'merge'");
  expect_message({"-q", "merge", "a.json"}, "--quiet must come after 'merge'");
  expect_message({"-w", "2", "serve"}, "--workers must come after 'serve'");
  expect_message({"http://a/", "serve"}, "serve: unexpected argument 'http://a/'");
  expect_message({"--bogus", "serve"}, "unknown option '--bogus'");
}

TEST(LoadOptions, ParsesFromSeveralThreadsAtOnce) {
  // Nothing global: concurrent parses neither interfere nor race.
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (unsigned t = 0; t < 4; ++t) {
    threads.emplace_back([t, &wrong] {
      for (unsigned i = 0; i < 50; ++i) {
        const unsigned n = t * 100 + i + 1;
        const run_options o = parse_run({"-c", std::to_string(n), "-H", "A: " + std::to_string(n)});
        if (o.connections != n || o.request.headers.size() != 1) ++wrong;
        if (usage_message({"-c", "0"}).find("--connections") == std::string::npos) ++wrong;
        if (usage_text().find("--fail-if") == std::string::npos) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
