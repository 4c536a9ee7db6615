// weft-load: stages (stages.hpp). The ramp's arithmetic exactly (levels,
// the closed model's users, the open model's arrival times); --stage on
// the command line and its mistakes; and runs: a closed model whose users
// are added, removed and added again, and an open model whose requests
// keep the ramped schedule to the nanosecond. Asserts are bounds the code
// forces whatever the timing (nobody runs before the ramp includes it, no
// more calls than the ramp has windows, no more requests than the schedule
// holds, every measurement accounted for). Loopback only; every run lasts
// well under a second (times run_scale under sanitizers).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "options.hpp"
#include "report.hpp"
#include "scenario.hpp"
#include "stages.hpp"
#include "weft/weft.hpp"
#include "weft_load_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace weft::load;
using namespace weft::load::test;
using std::chrono::nanoseconds;
using steady = std::chrono::steady_clock;

std::string reason(const std::string& text) {
  try {
    parse_stage(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

TEST(LoadStages, ParsesDurationColonTarget) {
  const stage s = parse_stage("1.5m:2500.5");
  EXPECT_EQ(s.duration, 90s);
  EXPECT_DOUBLE_EQ(s.target, 2500.5);
  EXPECT_EQ(parse_stage("250ms:0").target, 0);

  for (const auto& [text, why] : std::vector<std::pair<std::string, std::string>>{
           {"30s", "is not a stage (use DURATION:TARGET"},
           {"30:5", "'30:5': "},  // no unit
           {"0s:5", "must be more than zero"},
           {"1s:-1", "is not a target"},
           {"1s:", "is not a target"},
           {"1s:5x", "is not a target"},
           {"1s:nan", "is not a target"},
           {"1s:2e9", "is not a target"}}) {
    EXPECT_NE(reason(text).find(why), std::string::npos) << text << ": " << reason(text);
  }
}

TEST(LoadStages, RampLevelsUsersAndArrivals) {
  // 0 -> 10 over 10 s, held 10 s, 10 -> 0 over 5 s.
  const ramp r(0, {{10s, 10}, {10s, 10}, {5s, 0}});
  EXPECT_EQ(r.length(), 25s);
  EXPECT_DOUBLE_EQ(r.peak(), 10);
  EXPECT_EQ(r.most_users(), 10u);
  EXPECT_DOUBLE_EQ(r.at(0s), 0);
  EXPECT_DOUBLE_EQ(r.at(5s), 5);
  EXPECT_DOUBLE_EQ(r.at(15s), 10);
  EXPECT_DOUBLE_EQ(r.at(22500ms), 5);
  EXPECT_DOUBLE_EQ(r.at(1h), 0);  // past the end: the last target

  EXPECT_EQ(r.users_at(999ms), 0u);
  EXPECT_EQ(r.users_at(1s), 1u);  // user 0 runs once the level reaches 1
  EXPECT_EQ(r.users_at(10s), 10u);
  EXPECT_EQ(r.users_at(24s), 2u);
  // User 4 runs from 5 s (level 5, less the 1e-6 of rounding slack: 500 ns
  // at 1 user/s) until 22.5 s, then never again.
  const auto from = r.starts(4, 0s);
  ASSERT_TRUE(from.has_value());
  EXPECT_NEAR(static_cast<double>(from->count()), 5e9, 1e3);
  EXPECT_EQ(r.users_at(*from), 5u);
  EXPECT_EQ(r.users_at(*from - 1ms), 4u);
  EXPECT_EQ(r.starts(4, 12s), 12s);  // already included
  EXPECT_FALSE(r.starts(4, 23s).has_value());
  EXPECT_FALSE(r.starts(10, 0s).has_value());  // the level reaches 10 but never 11

  // Arrivals: the integral of 0 -> 10/s over 10 s is 5 t²/10 = t²/2.
  EXPECT_EQ(r.arrival(0), 0s);
  EXPECT_NEAR(static_cast<double>(r.arrival(2)->count()), 2e9, 2);          // t²/2 = 2 at 2 s
  EXPECT_NEAR(static_cast<double>(r.arrival(50)->count()), 10e9, 2);        // the whole ramp
  EXPECT_NEAR(static_cast<double>(r.arrival(100)->count()), 15e9, 2);       // 50 + 10/s · 5 s
  EXPECT_NEAR(static_cast<double>(r.arrival(168.75)->count()), 22.5e9, 2);  // down to 5/s
  EXPECT_FALSE(r.arrival(175).has_value());  // 50 + 100 + 25: the last is at the end

  // A constant rate R: the n-th arrival at n/R, as the plain open model.
  const ramp c = ramp::constant(400, 1s);
  EXPECT_EQ(c.arrival(1), 2500us);
  EXPECT_EQ(c.arrival(399), 997500us);
  EXPECT_FALSE(c.arrival(400).has_value());

  EXPECT_THROW(ramp(0, {}), std::invalid_argument);
  EXPECT_THROW(ramp(0, {{0s, 1}}), std::invalid_argument);
  EXPECT_THROW(ramp(-1, {{1s, 1}}), std::invalid_argument);
}

TEST(LoadStages, CommandLine) {
  const std::vector<std::string> closed = {"--stage", "10s:100", "--stage=1m:100", "--stage",
                                           "5s:0"};
  const auto c = std::get<run_options>(parse_command_line(closed));
  EXPECT_EQ(c.stages.size(), 3u);
  EXPECT_EQ(c.duration, 75s);
  EXPECT_EQ(c.connections, 100u);

  const std::vector<std::string> open = {"-r", "10", "-c", "8", "--stage", "2s:2500.5"};
  const auto o = std::get<run_options>(parse_command_line(open));
  EXPECT_EQ(o.duration, 2s);
  EXPECT_EQ(o.connections, 8u);  // the users that carry the rate
  EXPECT_DOUBLE_EQ(o.rate, 10);  // where the ramp starts

  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--stage", "10"}, "--stage: '10' is not a stage"},
           {{"--stage", "1s:x"}, "--stage: '1s:x': 'x' is not a target"},
           {{"--stage", "1s:1.5"}, "--stage: 1.5 users is not a whole number"},
           {{"--stage", "1s:0"}, "--stage: no stage has a user"},
           {{"-d", "1s", "--stage", "1s:3"}, "--stage: not with --duration"},
           {{"-c", "3", "--stage", "1s:3"}, "--stage: not with --connections"},
       }) {
    const cli_result r = cli(args);
    EXPECT_EQ(r.code, exit_usage) << args.back();
    EXPECT_NE(r.err.find("weft-load: " + message), std::string::npos) << r.err;
  }
}

TEST(LoadStages, CommandLineRunsTheStages) {
  const cli_result closed =
      cli({"--stage", std::to_string(100 * run_scale) + "ms:3", "--stage",
           std::to_string(100 * run_scale) + "ms:3", "-w", "2", "--quiet", "--json", "-"});
  ASSERT_EQ(closed.code, exit_ok) << closed.err;
  const report c = from_json_text(closed.out);
  EXPECT_EQ(c.connections, 3u);
  EXPECT_DOUBLE_EQ(c.duration_s, 0.2 * run_scale);
  EXPECT_EQ(c.status.count(200) ? c.status.at(200) : 0u, c.requests);  // how many: timing
  EXPECT_EQ(c.error_total(), 0u);

  // 200/s -> 400/s over 100 ms, 400/s -> 0 over 100 ms: 30 + 20 requests due.
  const cli_result open = cli({"-r", "200", "-c", "4", "--stage", "100ms:400", "--stage", "100ms:0",
                               "-w", "2", "--quiet", "--json", "-"});
  ASSERT_EQ(open.code, exit_ok) << open.err;
  const report o = from_json_text(open.out);
  EXPECT_EQ(o.model, "open");
  EXPECT_DOUBLE_EQ(o.rate, 400);  // the peak
  EXPECT_DOUBLE_EQ(o.duration_s, 0.2);
  EXPECT_LE(o.requests, 50u);  // no more than the schedule holds
  EXPECT_EQ(o.error_total(), 0u);
}

// Users 0 and 1 ramp in, hold, ramp out to none, come back, and go again;
// the last stage holds no user. Each iteration is one measured 1 ms sleep.
// How many of the ramp's windows a user's fiber catches depends on the
// scheduler: the asserts hold for any number (a call per window at most,
// each one started inside its window, ended by the ramp or by the run).
TEST(LoadStages, ClosedModelAddsAndRemovesUsers) {
  const auto d = [](int ms) { return nanoseconds(std::chrono::milliseconds(ms * run_scale)); };
  scenario_options o;
  o.stages = {{d(50), 2},  {d(100), 2}, {d(50), 0}, {d(50), 2},
              {d(100), 2}, {d(50), 0},  {d(200), 0}};
  const ramp plan(0, o.stages);
  weft::runtime rt(weft::options{.workers = 2});

  // Written by the user fibers; read after run_scenario joined them.
  std::atomic<int> running{0};
  std::atomic<int> most_running{0};
  std::atomic<std::uint64_t> measured{0};
  std::atomic<std::uint64_t> done{0};
  std::array<std::atomic<int>, 2> calls{};
  std::array<std::atomic<int>, 2> ended{};
  std::array<std::atomic<int>, 2> removed{};
  std::array<std::atomic<bool>, 2> started_early{};
  const auto before = steady::now();
  const report r = run_scenario(rt, o, [&](virtual_user& vu) {
    const auto start = vu.end() - plan.length();
    calls.at(vu.index()).fetch_add(1);
    struct on_exit {  // however the call ends: returned, or cancelled in its sleep
      std::atomic<int>& n;
      ~on_exit() { n.fetch_add(1); }
    } count_end{ended.at(vu.index())};
    bool first = true;
    while (vu.next_iteration()) {
      if (first && steady::now() < start + *plan.starts(vu.index(), 0s)) {
        started_early.at(vu.index()) = true;
      }
      first = false;
      const int now_running = running.fetch_add(1) + 1;
      int most = most_running.load();
      while (now_running > most && !most_running.compare_exchange_weak(most, now_running)) {
      }
      struct leave {
        std::atomic<int>& n;
        ~leave() { n.fetch_sub(1); }
      } count_leave{running};
      auto m = vu.measure();
      measured.fetch_add(1);
      weft::this_fiber::sleep_for(1ms);  // cancelled by a ramp-down or the end
      m.done(200);
      done.fetch_add(1);
    }
    if (!vu.over()) removed.at(vu.index()).fetch_add(1);
  });

  EXPECT_EQ(r.connections, 2u);  // the stages' peak
  EXPECT_DOUBLE_EQ(r.duration_s, 0.6 * run_scale);
  EXPECT_GE(steady::now() - before, plan.length());  // it lasted its stages
  EXPECT_LE(most_running.load(), 2);
  for (unsigned u = 0; u < 2; ++u) {
    EXPECT_FALSE(started_early[u].load()) << "user " << u << " ran before the ramp reached it";
    // The ramp includes each user in two windows: a fresh call each time
    // at most, and every call ended (returned once the ramp dropped, or
    // unwound by a cancellation).
    EXPECT_LE(calls[u].load(), 2) << u;
    EXPECT_EQ(ended[u].load(), calls[u].load()) << u;
    EXPECT_LE(removed[u].load(), calls[u].load()) << u;
  }
  // Every measured sleep is a response (recorded in the window, or dropped
  // after it) or cancelled in flight: none counted twice, none an error.
  EXPECT_LE(r.requests, done.load());
  EXPECT_LE(r.requests + r.cancelled, measured.load());
  EXPECT_EQ(done.load() + r.cancelled, measured.load());
  EXPECT_EQ(r.status.count(200) ? r.status.at(200) : 0u, r.requests);
  EXPECT_EQ(r.error_total(), 0u);
}

// 100/s -> 400/s over 200 ms, then -> 0 over 200 ms: 90 iterations due,
// over 3 users, each timed from its intended start on the ramp.
TEST(LoadStages, OpenModelFollowsTheRampedSchedule) {
  scenario_options o;
  o.users = 3;
  o.rate = 100;
  o.stages = {{200ms, 400}, {200ms, 0}};
  const ramp plan(o.rate, o.stages);
  weft::runtime rt(weft::options{.workers = 2});
  std::mutex lock;
  std::vector<std::vector<nanoseconds>> starts(o.users);  // per user, since the run's start
  const report r = run_scenario(rt, o, [&](virtual_user& vu) {
    const auto start = vu.end() - plan.length();
    while (vu.next_iteration()) {
      auto m = vu.measure();
      {
        const std::lock_guard guard(lock);
        starts[vu.index()].push_back(m.start() - start);
      }
      m.done(200);
    }
  });

  EXPECT_EQ(r.model, "open");
  EXPECT_DOUBLE_EQ(r.rate, 400);
  std::size_t total = 0;
  for (unsigned u = 0; u < o.users; ++u) {
    for (std::size_t k = 0; k < starts[u].size(); ++k) {
      // User u's k-th iteration is request u + 3k of the schedule, exactly.
      EXPECT_EQ(starts[u][k], *plan.arrival(static_cast<double>(u + 3 * k))) << u << ' ' << k;
    }
    total += starts[u].size();
  }
  EXPECT_LE(total, 90u);
  EXPECT_LE(r.requests, total);
}

}  // namespace
