// Helpers shared by the weft-load test files: a report with known
// contents, a field-by-field comparison, the sanitizer scale for runs, a
// server that answers as a test scripts it, and the program run in-process.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "report.hpp"
#include "weft/weft.hpp"

namespace weft::load::test {

inline report sample_report(std::uint64_t seed) {
  report r;
  r.target = "http://127.0.0.1:8080/";
  r.model = "closed";
  r.connections = 8;
  r.workers = 2;
  r.duration_s = 1.5;
  r.bytes = 123456789;
  r.connects = 8;
  r.cancelled = seed + 1;
  r.interrupted = seed % 2 == 1;
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
  // Two seconds splitting the requests (their buckets drawn afresh).
  for (std::uint64_t t = 0; t < 2; ++t) {
    timeline_second s;
    s.t = t;
    s.requests = 5'000;
    s.errors = t + seed;
    s.users = 8;
    s.rate = 0.5 * static_cast<double>(t);
    histogram h;
    for (int i = 0; i < 5'000; ++i) h.record(static_cast<std::uint64_t>(latency(rng)));
    s.latency = sparse_of(h.counts());
    r.timeline.push_back(s);
  }
  return r;
}

inline void expect_same(const report& a, const report& b) {
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
  EXPECT_EQ(a.cancelled, b.cancelled);
  EXPECT_EQ(a.interrupted, b.interrupted);
  EXPECT_EQ(a.errors, b.errors);
  EXPECT_EQ(a.status, b.status);
  EXPECT_TRUE(a.latency == b.latency);
  EXPECT_TRUE(a.timeline == b.timeline);
}

#ifdef WEFT_TEST_SANITIZED
// Sanitized code on a busy CI machine runs several times slower: the runs
// last longer so that they still see traffic, and the asserts do not change.
inline constexpr int run_scale = 3;
#else
inline constexpr int run_scale = 1;
#endif

/// Reads until the end of a request head (one request: the clients do not
/// pipeline); false if the peer closed first.
inline bool read_request(weft::net::tcp_stream& s) {
  std::string got;
  char buf[512];
  while (got.find("\r\n\r\n") == std::string::npos) {
    const std::size_t n = s.read_some(std::as_writable_bytes(std::span(buf)));
    if (n == 0) return false;
    got.append(buf, n);
  }
  return true;
}

/// Runs `answer` on each connection it accepts, then closes the connection.
/// (in a fiber of `rt`; a socket error ends it quietly).
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

/// A directory of its own for each test, removed at the end.
class temp_dir {
 public:
  explicit temp_dir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("weft_load_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// What run_cli did: its exit code and what it wrote.
struct cli_result {
  int code;
  std::string out;
  std::string err;
};

/// Runs weft-load in-process with `args`.
inline cli_result cli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = run_cli(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace weft::load::test
