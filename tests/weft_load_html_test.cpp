// weft-load: the HTML report (html_report.hpp). The page is self-contained
// (no address it would load, the data embedded so that no string in it can
// end the script early); --html writes it for a run and a merge, and names
// a path it cannot write; and, when Debian's chromium is installed, a real
// headless browser runs the page's script: the DOM it dumps has every
// chart, and its screenshot is not blank (decoded here: zlib inflates the
// PNG, the filters are undone by hand).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "html_report.hpp"
#include "report.hpp"
#include "test_support.hpp"
#include "weft_load_support.hpp"

namespace {

using namespace weft::load;
using namespace weft::load::test;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(LoadHtml, OneSelfContainedPage) {
  report r = sample_report(5);
  r.target = "http://127.0.0.1:8080/</script><script>alert(1)</script>";
  const std::string page = html_report(r);
  EXPECT_TRUE(page.starts_with("<!doctype html>"));
  EXPECT_NE(page.find(R"(<script id="report-data" type="application/json">)"), std::string::npos);
  // Nothing to fetch: no source, link or import of any kind.
  for (const char* fetch : {"src=", "href=", "@import", "url(", "<link", "fetch(", "XMLHttp"}) {
    EXPECT_EQ(page.find(fetch), std::string::npos) << fetch;
  }
  // The target's "</script>" is written as \u003c/script>: only the page's
  // own two script elements close.
  EXPECT_EQ(occurrences(page, "</script>"), 2u);
  EXPECT_NE(page.find(R"(\u003c/script>\u003cscript>alert(1))"), std::string::npos);
}

TEST(LoadHtml, WrittenForRunsAndMerges) {
  const temp_dir dir("html_cli");
  const std::string run_page = dir.file("run.html");
  cli_result r = cli({"-c", "2", "-d", std::to_string(100 * run_scale) + "ms", "-w", "1", "--quiet",
                      "--json", dir.file("run.json"), "--html", run_page});
  ASSERT_EQ(r.code, exit_ok) << r.err;
  EXPECT_TRUE(read_all(run_page).starts_with("<!doctype html>"));

  const std::string merged_page = dir.file("merged.html");
  r = cli({"merge", dir.file("run.json"), dir.file("run.json"), "--html", merged_page});
  ASSERT_EQ(r.code, exit_ok) << r.err;
  EXPECT_NE(read_all(merged_page).find("\"connections\":4"), std::string::npos);

  const std::string nowhere = dir.file("no/such/dir/report.html");
  r = cli({"merge", dir.file("run.json"), "--html", nowhere});
  EXPECT_EQ(r.code, exit_usage);
  EXPECT_NE(r.err.find("weft-load: --html: cannot write '" + nowhere + "'"), std::string::npos)
      << r.err;
}

// ---- in a real browser --------------------------------------------------------------------

constexpr const char* chromium = "/usr/bin/chromium";

// Runs chromium headless on `page` with `mode` (--dump-dom, --screenshot=...),
// its stdout into `out`; true if it exited 0 within a minute.
bool run_chromium(const temp_dir& dir, const std::string& mode, const std::string& page,
                  const std::string& out) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  const pid_t pid = weft::test::spawn_with_environment(
      {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
       "--user-data-dir=" + dir.file("profile"), "--window-size=1200,1600", mode, "file://" + page},
      {}, &actions);
  posix_spawn_file_actions_destroy(&actions);
  // Waits for it to exit, a minute at most: poll() on a pidfd wakes when
  // it exits (a condition, not a delay); without pidfds (Linux < 5.3),
  // waitpid() blocks, bounded by the test's timeout.
  int status = 0;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 60'000);
    ::close(pidfd);
    if (ready != 1) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return false;
    }
  }
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::uint32_t big_endian(const std::string& s, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

// An 8-bit RGB or RGBA, non-interlaced PNG (what chromium writes), as rows
// of pixels with `channels` bytes each; nothing if it is anything else.
struct image {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  unsigned channels = 0;
  std::vector<std::uint8_t> pixels;
};

std::optional<image> decode_png(const std::string& png) {
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return std::nullopt;
  image img;
  std::string compressed;
  for (std::size_t at = 8; at + 12 <= png.size();) {
    const std::uint32_t length = big_endian(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (at + 12 + length > png.size()) return std::nullopt;
    const std::string body = png.substr(at + 8, length);
    if (type == "IHDR") {
      img.width = big_endian(body, 0);
      img.height = big_endian(body, 4);
      const int depth = body[8], colour = body[9], interlace = body[12];
      if (depth != 8 || (colour != 2 && colour != 6) || interlace != 0) return std::nullopt;
      img.channels = colour == 2 ? 3 : 4;
    } else if (type == "IDAT") {
      compressed += body;
    }
    at += 12 + length;
  }
  const std::size_t stride = std::size_t{img.width} * img.channels;
  std::vector<std::uint8_t> raw(img.height * (stride + 1));
  uLongf size = raw.size();
  if (img.channels == 0 ||
      uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(compressed.data()),
                 compressed.size()) != Z_OK ||
      size != raw.size()) {
    return std::nullopt;
  }
  img.pixels.resize(img.height * stride);
  for (std::size_t y = 0; y < img.height; ++y) {
    const std::uint8_t filter = raw[y * (stride + 1)];
    const std::uint8_t* in = &raw[y * (stride + 1) + 1];
    std::uint8_t* row = &img.pixels[y * stride];
    const std::uint8_t* up = y > 0 ? row - stride : nullptr;
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= img.channels ? row[i - img.channels] : 0;
      const int b = up ? up[i] : 0;
      const int c = up && i >= img.channels ? up[i - img.channels] : 0;
      int predicted = 0;
      switch (filter) {
        case 0:
          break;
        case 1:
          predicted = a;
          break;
        case 2:
          predicted = b;
          break;
        case 3:
          predicted = (a + b) / 2;
          break;
        case 4: {  // Paeth
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          return std::nullopt;
      }
      row[i] = static_cast<std::uint8_t>(in[i] + predicted);
    }
  }
  return img;
}

TEST(LoadHtml, ChromiumDrawsTheCharts) {
  if (!std::filesystem::exists(chromium)) GTEST_SKIP() << "chromium is not installed";
  const temp_dir dir("html_chromium");
  const std::string page = dir.file("report.html");
  std::ofstream(page) << html_report(sample_report(9));

  ASSERT_TRUE(run_chromium(dir, "--dump-dom", page, dir.file("dom.html")));
  const std::string dom = read_all(dir.file("dom.html"));
  // Made by the page's script (the static page has none of them).
  for (const char* chart : {"rps", "latency", "plan", "percentiles", "outcomes"}) {
    EXPECT_NE(dom.find(std::string("<svg id=\"chart-") + chart + "\""), std::string::npos) << chart;
  }
  EXPECT_GE(occurrences(dom, "<polyline"), 6u);  // 2 + 2 + 1 + 1 lines
  EXPECT_NE(dom.find("<title>weft-load report: http://127.0.0.1:8080/</title>"), std::string::npos);

  ASSERT_TRUE(
      run_chromium(dir, "--screenshot=" + dir.file("shot.png"), page, dir.file("shot.log")));
  const auto shot = decode_png(read_all(dir.file("shot.png")));
  ASSERT_TRUE(shot.has_value());
  EXPECT_EQ(shot->width, 1200u);
  EXPECT_EQ(shot->height, 1600u);
  std::size_t inked = 0;
  std::set<std::tuple<int, int, int>> colours;
  for (std::size_t i = 0; i + shot->channels <= shot->pixels.size(); i += shot->channels) {
    const int r = shot->pixels[i], g = shot->pixels[i + 1], b = shot->pixels[i + 2];
    if (r < 240 || g < 240 || b < 240) ++inked;
    if (colours.size() < 1000) colours.emplace(r, g, b);
  }
  const std::size_t total = std::size_t{shot->width} * shot->height;
  EXPECT_GT(inked, total / 100) << "a blank page";  // text, lines and bars: well over 1%
  EXPECT_GT(colours.size(), 20u);                   // the charts' colours, antialiased
}

}  // namespace
