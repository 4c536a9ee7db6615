// weft-load: the per-second timeline (timeline.hpp). A run's seconds add
// up to its totals and carry the users its stages had in force; the JSON
// form round-trips; merged timelines are exact, second by second; a bad
// timeline is named. Runs here last 1.5 s: a timeline needs seconds.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "report.hpp"
#include "scenario.hpp"
#include "timeline.hpp"
#include "weft/weft.hpp"
#include "weft_load_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace weft::load;
using namespace weft::load::test;

TEST(LoadTimeline, SecondsAddUpAndCarryTheUsersInForce) {
  scenario_options o;
  o.stages = {{1s, 2}, {500ms, 2}};  // second 0: 1 user at its middle; second 1: 2
  weft::runtime rt(weft::options{.workers = 2});
  const report r = run_scenario(rt, o, [](virtual_user& vu) {
    for (int i = 0; vu.next_iteration(); ++i) {
      if (i % 10 == 9) {
        vu.error(error_kind::timeout);
        continue;
      }
      auto m = vu.measure();
      weft::this_fiber::sleep_for(1ms);
      m.done(200);
    }
  });

  ASSERT_EQ(r.timeline.size(), 2u);  // 1.5 s: the second one partial
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  for (std::size_t t = 0; t < r.timeline.size(); ++t) {
    const timeline_second& s = r.timeline[t];
    EXPECT_EQ(s.t, t);
    std::uint64_t in_buckets = 0;
    for (const auto& [index, n] : s.latency) in_buckets += n;
    EXPECT_EQ(in_buckets, s.requests) << t;
    if (s.requests > 0) {
      EXPECT_GE(s.quantile(0.5), 1e6) << t;  // each response took a 1 ms sleep
      EXPECT_LE(s.quantile(0.5), s.quantile(0.99)) << t;
    }
    EXPECT_EQ(s.rate, 0);
    requests += s.requests;
    errors += s.errors;
  }
  EXPECT_EQ(r.timeline[0].users, 1);
  EXPECT_EQ(r.timeline[1].users, 2);
  EXPECT_EQ(requests, r.requests);
  EXPECT_EQ(errors, r.error_total());
  EXPECT_GT(requests, 0u);

  const report back = from_json_text(to_json_text(r));
  expect_same(back, r);
}

TEST(LoadTimeline, MergeIsExactSecondBySecond) {
  const report a = sample_report(3);
  report b_run = sample_report(4);
  b_run.timeline.pop_back();  // a shorter run
  const report& b = b_run;
  const report m = merge({a, b});
  ASSERT_EQ(m.timeline.size(), 2u);
  histogram both;
  for (const report* part : {&a, &b}) {
    histogram h;
    h.assign_bounded(part->timeline[0].latency, 0);
    both.merge(h);
  }
  EXPECT_EQ(m.timeline[0].latency, sparse_of(both.counts()));
  EXPECT_EQ(m.timeline[0].requests, 10'000u);
  EXPECT_EQ(m.timeline[0].errors, a.timeline[0].errors + b.timeline[0].errors);
  EXPECT_EQ(m.timeline[0].users, 16);
  EXPECT_EQ(m.timeline[1], a.timeline[1]);  // only a had a second second
  expect_same(from_json_text(to_json_text(m)), m);
}

TEST(LoadTimeline, BadTimelinesAreNamed) {
  const auto reason = [](const std::string& timeline) {
    std::string text = to_json_text(sample_report(1));
    const auto at = text.find("\"timeline\"");
    text = text.substr(0, at) + "\"timeline\": " + timeline + "\n}\n";
    try {
      from_json_text(text);
    } catch (const report_format_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string second =
      R"({"t": 0, "requests": 2, "errors": 0, "users": 1, "rate": 0, "buckets": [[5, 2]]})";
  EXPECT_EQ(reason("[" + second + "]"), "accepted");
  EXPECT_EQ(reason("[" + second + ", " + second + "]"),
            "timeline[1].t: expected 1 (one entry a second)");
  EXPECT_EQ(
      reason(
          R"([{"t": 0, "requests": 3, "errors": 0, "users": 1, "rate": 0, "buckets": [[5, 2]]}])"),
      "timeline[0].buckets: hold 2 responses, but requests is 3");
  EXPECT_EQ(reason(R"([{"t": 0, "requests": 2, "errors": 0, "users": 1, "rate": 0,
                       "buckets": [[6, 1], [5, 1]]}])"),
            "timeline[0].buckets[1][0]: buckets out of order");
  EXPECT_EQ(reason(R"([{"t": 0}])"), "missing timeline[0].requests");
  EXPECT_EQ(reason("{}"), "timeline: expected an array, got an object");
}

}  // namespace
