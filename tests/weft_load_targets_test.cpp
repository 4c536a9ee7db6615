// weft-load: request mixes (--targets, targets_file.hpp). The vegeta format
// parsed (comments, CRLF, headers, body files relative and absolute); bad
// entries named by file and line; a missing file and the options --targets
// replaces; and runs against a server that records what it gets: one user
// sends the entries exactly in turn, and several users together keep the
// weights to within what the requests in flight at the end allow.
// Loopback only; every run lasts a few hundred milliseconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "report.hpp"
#include "targets_file.hpp"
#include "weft/weft.hpp"
#include "weft_load_support.hpp"

namespace {

using namespace weft::load;
using namespace weft::load::test;

std::string reason(const std::string& text) {
  try {
    parse_targets(text, "mix.txt", "/nowhere");
  } catch (const targets_error& e) {
    return e.what();
  }
  return "accepted";
}

TEST(LoadTargets, ParsesVegetaFormat) {
  const temp_dir dir("targets_parse");
  std::ofstream(dir.file("add.json")) << R"({"sku": 7})";
  std::ofstream(dir.file("abs.txt")) << "absolute";
  const std::string text =
      "# the catalog, twice\r\n"
      "GET https://shop.example/catalog?page=1\r\n"
      "Accept: application/json\r\n"
      "\r\n"
      "GET http://127.0.0.1:8080/\n"
      "\n\n"
      "POST http://127.0.0.1:8080/cart\n"
      "Content-Type: application/json\n"
      "X-Empty:\n"
      "@add.json\n"
      "\n"
      "PUT http://127.0.0.1:8080/raw\n"
      "@" +
      dir.file("abs.txt") + "\n";
  const auto entries = parse_targets(text, "mix.txt", dir.file(""));
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].request.method, "GET");
  EXPECT_TRUE(entries[0].target.tls);
  EXPECT_EQ(entries[0].target.target, "/catalog?page=1");
  EXPECT_EQ(entries[0].request.headers, std::vector<std::string>{"Accept: application/json"});
  EXPECT_EQ(entries[0].line, 2u);
  EXPECT_EQ(entries[1].target.port, 8080);
  EXPECT_TRUE(entries[1].request.headers.empty());
  EXPECT_EQ(entries[2].request.method, "POST");
  EXPECT_EQ(entries[2].request.headers.size(), 2u);
  EXPECT_EQ(entries[2].request.body, R"({"sku": 7})");
  EXPECT_EQ(entries[2].line, 8u);
  EXPECT_EQ(entries[3].request.body, "absolute");
}

TEST(LoadTargets, RejectsBadEntriesWithFileAndLine) {
  for (const auto& [text, why] : std::vector<std::pair<std::string, std::string>>{
           {"", "mix.txt: no request in it"},
           {"# only a comment\n\n", "mix.txt: no request in it"},
           {"GET\n", "mix.txt:1: 'GET' is not a request line (METHOD URL)"},
           {"\nG(T http://a/\n", "mix.txt:2: 'G(T' is not an HTTP method"},
           {"GET ftp://a/\n", "mix.txt:1: bad URL 'ftp://a/': unsupported scheme"},
           {"GET http://a/\nno colon\n", "mix.txt:2: 'no colon' is not a header"},
           {"GET http://a/\n@\n", "mix.txt:2: '@' needs a file name"},
           {"GET http://a/\n@missing.json\n",
            "mix.txt:2: cannot read the body file '/nowhere/missing.json': No such file"},
           {"GET http://a/\nGET http://b/\n", "mix.txt:2: 'GET http://b/' is not a header"},
       }) {
    EXPECT_NE(reason(text).find(why), std::string::npos) << text << "\n-> " << reason(text);
  }
}

TEST(LoadTargets, MissingFileAndReplacedOptions) {
  const temp_dir dir("targets_cli");
  const std::string missing = dir.file("missing.txt");
  cli_result r = cli({"--targets", missing, "-d", "100ms"});
  EXPECT_EQ(r.code, exit_usage);
  EXPECT_NE(r.err.find("weft-load: --targets: cannot read '" + missing + "': No such file"),
            std::string::npos)
      << r.err;
  // A directory opens, and would read as an empty file: refused by name.
  r = cli({"--targets", dir.file(""), "-d", "100ms"});
  EXPECT_EQ(r.code, exit_usage);
  EXPECT_NE(r.err.find("Is a directory"), std::string::npos) << r.err;

  std::ofstream(dir.file("bad.txt")) << "GET http://127.0.0.1/\nbad header\n";
  r = cli({"--targets", dir.file("bad.txt"), "-d", "100ms"});
  EXPECT_EQ(r.code, exit_usage);
  EXPECT_NE(r.err.find("weft-load: --targets: " + dir.file("bad.txt") + ":2: "), std::string::npos)
      << r.err;

  for (const auto& [extra, why] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"http://127.0.0.1/"}, "--targets: not with a URL"},
           {{"-m", "POST"}, "--targets: not with --method"},
           {{"-H", "X: y"}, "--targets: not with --header"},
           {{"-b", "text"}, "--targets: not with --body"},
           {{"--targets="}, "--targets needs a value"}}) {
    std::vector<std::string> args = {"--targets", missing};
    args.insert(args.end(), extra.begin(), extra.end());
    r = cli(args);
    EXPECT_EQ(r.code, exit_usage) << why;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  }
}

// What the recording server got: request lines ("POST /b") and, for each
// request with a body, "body of /path: ..." and its X-Mix header.
struct received {
  std::mutex lock;
  std::vector<std::string> lines;
  std::vector<std::string> details;
};

// Reads requests (head, then a Content-Length body) and answers each with
// a small 200, recording them in `got`.
void record_requests(weft::net::tcp_stream& s, received& got) {
  static const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  std::string pending;
  char buf[4096];
  for (;;) {
    const auto head_end = pending.find("\r\n\r\n");
    std::size_t length = 0;
    if (head_end != std::string::npos) {
      const auto cl = pending.find("Content-Length: ");
      if (cl != std::string::npos && cl < head_end) length = std::stoul(pending.substr(cl + 16));
    }
    if (head_end == std::string::npos || pending.size() < head_end + 4 + length) {
      const std::size_t n = s.read_some(std::as_writable_bytes(std::span(buf)));
      if (n == 0) return;
      pending.append(buf, n);
      continue;
    }
    const std::string head = pending.substr(0, head_end);
    const std::string line = head.substr(0, head.find(" HTTP/1.1"));
    {
      const std::lock_guard guard(got.lock);
      got.lines.push_back(line);
      if (length > 0) {
        const auto mix = head.find("X-Mix: ");
        got.details.push_back(line + " " + pending.substr(head_end + 4, length) + " " +
                              (mix == std::string::npos ? "-" : head.substr(mix + 7, 1)));
      }
    }
    pending.erase(0, head_end + 4 + length);
    s.write_all(std::as_bytes(std::span(ok)));
  }
}

// A mix file for the server on `port`: GET /a, GET /a, POST /b with a body
// file and a header.
std::string write_mix(const temp_dir& dir, std::uint16_t port) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  std::ofstream(dir.file("b.txt")) << "bee";
  std::ofstream(dir.file("mix.txt")) << "GET " << base << "/a\n\nGET " << base << "/a\n\n"
                                     << "POST " << base << "/b\nX-Mix: 1\n@b.txt\n";
  return dir.file("mix.txt");
}

TEST(LoadTargets, OneUserSendsTheEntriesInTurn) {
  const temp_dir dir("targets_turn");
  weft::runtime rt(weft::options{.workers = 1});
  received got;
  const scripted_server server(rt, [&got](weft::net::tcp_stream& s) { record_requests(s, got); });
  const cli_result r = cli({"--targets", write_mix(dir, server.port()), "-c", "1", "-d",
                            std::to_string(200 * run_scale) + "ms", "-w", "1", "--quiet"});
  ASSERT_EQ(r.code, exit_ok) << r.err;
  EXPECT_NE(r.out.find("(3 requests, taken in turn)"), std::string::npos) << r.out;
  const std::lock_guard guard(got.lock);
  ASSERT_GT(got.lines.size(), 3u);
  for (std::size_t i = 0; i < got.lines.size(); ++i) {
    EXPECT_EQ(got.lines[i], i % 3 == 2 ? "POST /b" : "GET /a") << i;
  }
  for (const std::string& d : got.details) EXPECT_EQ(d, "POST /b bee 1");
}

// Four users take one counter's turns: /a is listed three times, /b once.
// Of the first T requests taken, /a has 3T/4 (up to 3 more) and /b T/4;
// each user may have taken one more than it sent when the run ended.
TEST(LoadTargets, SeveralUsersKeepTheWeights) {
  constexpr int users = 4;
  const temp_dir dir("targets_weights");
  weft::runtime rt(weft::options{.workers = 1});
  received got;
  const scripted_server server(rt, [&got](weft::net::tcp_stream& s) { record_requests(s, got); });
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  std::ofstream(dir.file("mix.txt")) << "GET " << base << "/a\n\nGET " << base << "/a\n\nGET "
                                     << base << "/a\n\nGET " << base << "/b\n";
  const cli_result r =
      cli({"--targets", dir.file("mix.txt"), "-c", std::to_string(users), "-d",
           std::to_string(200 * run_scale) + "ms", "-w", "2", "--quiet", "--json", "-"});
  ASSERT_EQ(r.code, exit_ok) << r.err;
  EXPECT_EQ(from_json_text(r.out).target, dir.file("mix.txt"));
  const std::lock_guard guard(got.lock);
  const auto a = static_cast<int>(std::count(got.lines.begin(), got.lines.end(), "GET /a"));
  const auto b = static_cast<int>(std::count(got.lines.begin(), got.lines.end(), "GET /b"));
  EXPECT_EQ(a + b, static_cast<int>(got.lines.size()));
  EXPECT_GT(b, 0);
  EXPECT_GE(a - 3 * b, -users);
  EXPECT_LE(a - 3 * b, 3 + 3 * users);
}

}  // namespace
