// weft-load: the HTTP response reader (Content-Length, chunked,
// close-delimited, garbage); runs of the load loop against the built-in
// server (closed model) and deliberately misbehaving servers (open model
// with coordinated-omission correction, refused connections, resets,
// stalls, garbage); the exit codes, in process and, when the tool is built,
// of the weft-load binary. Loopback addresses only; every run lasts a few
// hundred milliseconds.
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
#include "load.hpp"
#include "options.hpp"
#include "report.hpp"
#include "server.hpp"
#include "test_support.hpp"
#include "threshold.hpp"
#include "url.hpp"
#include "weft/weft.hpp"
#include "weft_load_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace weft::load;
using std::chrono::nanoseconds;
using namespace weft::load::test;

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

TEST(LoadHttp, UpgradeAndHttp10KeepAlive) {
  const std::string first =
      "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok";
  string_source in(
      first +
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
          "\x81\x05hello",
      5);
  response_reader reader;
  const response a = reader.read(in, false);
  EXPECT_EQ(a.status, 200);
  EXPECT_TRUE(a.keep_alive);  // HTTP/1.0 that asks for keep-alive
  EXPECT_EQ(a.bytes, first.size());
  const response b = reader.read(in, false);
  EXPECT_EQ(b.status, 101);
  EXPECT_FALSE(b.keep_alive);  // no longer HTTP: the connection is not reused
}

TEST(LoadHttp, GarbageAndTruncationAreErrors) {
  const auto outcome = [](const std::string& text) {
    string_source in(text, 3);
    response_reader reader(256, 256);
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

// The built-in server under bad input: a request it cannot parse gets 400
// and a close, and the server goes on serving.
TEST(LoadServer, MalformedRequestsGet400AndTheServerStaysUp) {
  weft::runtime rt(weft::options{.workers = 2});
  http_server server(rt, "127.0.0.1", 0);
  const std::uint16_t port = server.port();
  const auto exchange = [&rt, port](std::string request) {
    return rt.block_on([port, request] {
      auto s = weft::net::tcp_stream::connect("127.0.0.1", port);
      s.write_all(std::as_bytes(std::span(request)));
      std::string reply;
      std::byte buf[4096];
      // A 400 closes; a 200 keeps the connection: stop at the end of its body.
      while (reply.find("\r\n\r\n") == std::string::npos ||
             (reply.starts_with("HTTP/1.1 200") && !reply.ends_with(http_server::body))) {
        const std::size_t n = s.read_some(buf);
        if (n == 0) break;
        reply.append(reinterpret_cast<const char*>(buf), n);
      }
      return reply;
    });
  };
  const std::vector<std::string> malformed = {
      std::string("\x01\x02\xff garbage\r\n\r\n"),
      "GET /\r\n\r\n",                            // no version
      "GET / HTTP/2.0\r\n\r\n",                   // not HTTP/1.x
      "G(T / HTTP/1.1\r\n\r\n",                   // not a token
      "GET /a b HTTP/1.1\r\n\r\n",                // a space in the target
      "GET / HTTP/1.1\r\nno colon here\r\n\r\n",  // a header line without a name
  };
  for (const std::string& request : malformed) {
    const std::string reply = exchange(request);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400 Bad Request\r\n")) << reply;
    EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
  }
  const std::string fine = exchange("GET /x?y=1 HTTP/1.1\r\nHost: a\r\nX-Tab:\tv\r\n\r\n");
  EXPECT_TRUE(fine.starts_with("HTTP/1.1 200 OK\r\n")) << fine;
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

TEST(LoadCli, RunsTheBuiltInServerAndWritesJson) {
  const cli_result r = cli({"-c", "4", "-d", std::to_string(200 * run_scale) + "ms", "-w", "2",
                            "--quiet", "--json", "-", "--fail-if", "errors>0"});
  ASSERT_EQ(r.code, exit_ok) << r.err;
  const report rep = from_json_text(r.out);  // stdout holds only the JSON
  EXPECT_GT(rep.requests, 0u);
  EXPECT_EQ(rep.status.at(200), rep.requests);
  EXPECT_NE(r.err.find("Requests/s"), std::string::npos);  // the table went to stderr
}

// --start-at holds the load back until that Unix time (runs on several
// machines begin together); a time already past starts at once, with a word.
TEST(LoadCli, StartAtWaitsForItsTime) {
  const auto start = std::chrono::system_clock::now() + 300ms;
  const double unix_seconds = std::chrono::duration<double>(start.time_since_epoch()).count();
  std::ostringstream at;
  at.precision(17);
  at << unix_seconds;
  const auto before = std::chrono::system_clock::now();
  const cli_result r = cli({"-c", "2", "-d", "50ms", "-w", "1", "--quiet", "--start-at", at.str()});
  ASSERT_EQ(r.code, exit_ok) << r.err;
  EXPECT_GE(std::chrono::system_clock::now() - before, start - before);
  EXPECT_NE(r.err.find("weft-load: starting in"), std::string::npos) << r.err;
  const cli_result late =
      cli({"-c", "2", "-d", "50ms", "-w", "1", "--quiet", "--start-at", "1000"});
  ASSERT_EQ(late.code, exit_ok) << late.err;
  EXPECT_NE(late.err.find("ago; starting now"), std::string::npos) << late.err;
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
           {"-c", "0"}, {"--duration", "5x"}, {"ftp://127.0.0.1/"}, {"--bogus"}, {"-d"}}) {
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
  std::ofstream(path_a) << to_json_text(a);
  std::ofstream(path_b) << to_json_text(b);
  std::ofstream(dir / "bad.json") << "{\"tool\": \"weft-load\"";

  const cli_result r = cli({"merge", path_a, path_b, "--json", "-"});
  ASSERT_EQ(r.code, exit_ok) << r.err;
  expect_same(from_json_text(r.out), merge({a, b}));

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
