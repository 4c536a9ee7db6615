// weft-load: custom scenarios (scenario.hpp, http_connection.hpp). User
// functions that measure sleeps rather than requests check the models: the
// closed model counts iterations, the open model keeps its schedule to the
// microsecond and counts the delay from the intended start; errors by kind,
// a user function that throws, bad options; and a two-request HTTP
// scenario against the built-in server. Every assert is a bound the code
// forces (a latency at least the sleep it measured, a count at most what
// the schedule allows), never a timing that merely usually holds. Loopback
// only; every run lasts a few hundred milliseconds.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "http_client.hpp"
#include "http_connection.hpp"
#include "load.hpp"
#include "report.hpp"
#include "scenario.hpp"
#include "server.hpp"
#include "url.hpp"
#include "weft/weft.hpp"
#include "weft_load_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace weft::load;
using std::chrono::nanoseconds;
using weft::load::test::run_scale;
using steady = std::chrono::steady_clock;

std::uint64_t ns(nanoseconds d) { return static_cast<std::uint64_t>(d.count()); }

// b - a in milliseconds.
double ms_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::uint64_t errors_of(const report& r, error_kind k) {
  return r.errors[static_cast<std::size_t>(k)];
}

TEST(LoadScenario, ClosedModelCountsIterations) {
  constexpr unsigned users = 3;
  constexpr auto work = 2ms;
  weft::runtime rt(weft::options{.workers = 2});
  // Counters of the user fibers, relaxed: read after run_scenario joined
  // them (the join orders every increment before the reads).
  std::atomic<std::uint64_t> iterations{0};
  std::atomic<unsigned> seen{0};  // bit u: user u ran
  scenario_options o;
  o.users = users;
  o.duration = 300ms * run_scale;
  o.name = "sleeper";
  const report r = run_scenario(rt, o, [&](virtual_user& vu) {
    seen.fetch_or(1u << vu.index(), std::memory_order_relaxed);
    while (vu.next_iteration()) {
      iterations.fetch_add(1, std::memory_order_relaxed);
      auto m = vu.measure();
      weft::this_fiber::sleep_for(work);
      m.done(200, 10);
    }
  });

  EXPECT_EQ(seen.load(), (1u << users) - 1);
  EXPECT_GT(r.requests, 0u);
  // Each iteration records one response, except that one per user may end
  // after the window (dropped).
  EXPECT_LE(r.requests, iterations.load());
  EXPECT_GE(r.requests + users, iterations.load());
  // Each user's iterations follow one another: no more than the window holds.
  EXPECT_LE(r.requests, users * static_cast<std::uint64_t>(o.duration / work));
  EXPECT_EQ(r.status.at(200), r.requests);
  EXPECT_EQ(r.bytes, 10 * r.requests);
  EXPECT_EQ(r.latency.count(), r.requests);
  EXPECT_GE(r.latency.min(), ns(work));
  EXPECT_EQ(r.error_total(), 0u);
  EXPECT_EQ(r.target, "sleeper");
  EXPECT_EQ(r.model, "closed");
  EXPECT_EQ(r.connections, users);
  EXPECT_EQ(r.workers, 2u);
  EXPECT_DOUBLE_EQ(r.duration_s, 0.3 * run_scale);
}

TEST(LoadScenario, OpenModelKeepsTheScheduleOfTheRate) {
  // 2 users at 100 iterations/s in total: user u is due at start + u*10ms
  // + k*20ms. The first measurement of an iteration starts at that intended
  // time exactly, whenever the fiber actually woke.
  constexpr unsigned users = 2;
  constexpr double rate = 100;
  weft::runtime rt(weft::options{.workers = 2});
  // starts[u]: user u's first measurement starts, written by u's fiber
  // only, read after run_scenario joined it.
  std::vector<std::vector<steady::time_point>> starts(users);
  std::atomic<int> early{0};  // iterations begun before due; relaxed, read after the join
  scenario_options o;
  o.users = users;
  o.duration = 300ms * run_scale;
  o.rate = rate;
  const report r = run_scenario(rt, o, [&](virtual_user& vu) {
    while (vu.next_iteration()) {
      const auto now = steady::now();
      auto m = vu.measure();
      if (now < m.start()) early.fetch_add(1, std::memory_order_relaxed);
      starts[vu.index()].push_back(m.start());
      m.done(200);
    }
  });

  EXPECT_EQ(r.model, "open");
  EXPECT_EQ(r.rate, rate);
  EXPECT_EQ(early.load(), 0);
  std::size_t iterations = 0;
  for (const auto& s : starts) iterations += s.size();
  // Iterations are due at i/R for i = 0, 1, ... within the window, no more.
  EXPECT_LE(iterations, static_cast<std::size_t>(std::ceil(rate * 0.3 * run_scale)));
  EXPECT_LE(r.requests, iterations);
  EXPECT_GT(r.requests, 0u);
  for (const auto& s : starts) {
    for (std::size_t k = 1; k < s.size(); ++k) {
      EXPECT_NEAR(ms_between(s[k - 1], s[k]), 20.0, 0.001) << k;
    }
  }
  if (!starts[0].empty() && !starts[1].empty()) {
    EXPECT_NEAR(ms_between(starts[0][0], starts[1][0]), 10.0, 0.001);
  }
}

TEST(LoadScenario, OpenModelCountsTheDelayFromTheIntendedStart) {
  // One user asked for an iteration every 10 ms, each taking 30 ms: it
  // falls further behind each time. Iteration k is due at 10k ms but
  // cannot end before 30(k+1) ms, so its latency is at least 30 + 20k ms.
  // The closed model, measuring from the actual start, sees only the work.
  constexpr auto work = 30ms;
  constexpr auto interval = 10ms;
  weft::runtime rt(weft::options{.workers = 2});
  const auto user = [&](virtual_user& vu) {
    while (vu.next_iteration()) {
      auto m = vu.measure();
      weft::this_fiber::sleep_for(work);
      m.done(200);
    }
  };
  scenario_options o;
  o.users = 1;
  o.duration = 400ms * run_scale;
  const report closed = run_scenario(rt, o, user);
  o.rate = 1.0 / std::chrono::duration<double>(interval).count();
  const report open = run_scenario(rt, o, user);

  for (const report* r : {&closed, &open}) {
    EXPECT_GE(r->requests, 1u);
    EXPECT_LE(r->requests, static_cast<std::uint64_t>(o.duration / work));
    EXPECT_GE(r->latency.min(), ns(work));
  }
  // The recorded iterations are the first ones, k = 0 .. requests-1.
  const auto k = static_cast<std::int64_t>(open.requests) - 1;
  EXPECT_GE(open.latency.max(), ns(work + (work - interval) * k));
}

TEST(LoadScenario, LaterMeasurementsInAnIterationCountFromTheirOwnStart) {
  weft::runtime rt(weft::options{.workers = 2});
  // Relaxed counters of the user fibers, read after run_scenario joined them.
  std::atomic<int> wrong{0};
  std::atomic<int> iterations{0};
  scenario_options o;
  o.users = 2;
  o.duration = 200ms * run_scale;
  o.rate = 50;
  run_scenario(rt, o, [&](virtual_user& vu) {
    while (vu.next_iteration()) {
      iterations.fetch_add(1, std::memory_order_relaxed);
      auto first = vu.measure();
      weft::this_fiber::sleep_for(5ms);
      first.done(200);
      const auto between = steady::now();
      auto second = vu.measure();  // not the intended start again
      if (second.start() < between || second.start() <= first.start()) {
        wrong.fetch_add(1, std::memory_order_relaxed);
      }
      second.done(200);
    }
  });
  EXPECT_GT(iterations.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

TEST(LoadScenario, ErrorsAreRecordedByKind) {
  constexpr unsigned users = 2;
  weft::runtime rt(weft::options{.workers = 2});
  scenario_options o;
  o.users = users;
  o.duration = 100ms * run_scale;
  const report r = run_scenario(rt, o, [](virtual_user& vu) {
    while (vu.next_iteration()) {
      vu.error(error_kind::timeout);
      vu.error(error_kind::parse);
      weft::this_fiber::sleep_for(1ms);
    }
  });
  EXPECT_EQ(r.requests, 0u);
  EXPECT_GT(errors_of(r, error_kind::timeout), 0u);
  // The end of the run may fall between the two of one iteration per user.
  EXPECT_LE(errors_of(r, error_kind::parse), errors_of(r, error_kind::timeout));
  EXPECT_GE(errors_of(r, error_kind::parse) + users, errors_of(r, error_kind::timeout));
  EXPECT_EQ(r.error_total(), errors_of(r, error_kind::timeout) + errors_of(r, error_kind::parse));
}

TEST(LoadScenario, AThrowingUserIsCountedAndStartedAgainInItsPlace) {
  // The first call throws in its first iteration; the second call, a fresh
  // one, goes on with the next iteration of the schedule.
  weft::runtime rt(weft::options{.workers = 2});
  // Written by the one user's fiber, its two calls one after the other;
  // read after run_scenario joined it.
  std::atomic<int> calls{0};
  steady::time_point thrown_at{};   // by the first call
  steady::time_point resumed_at{};  // by the second
  scenario_options o;
  o.users = 1;
  o.duration = 200ms * run_scale;
  o.rate = 100;
  const report r = run_scenario(rt, o, [&](virtual_user& vu) {
    const int call = calls.fetch_add(1);
    bool first_iteration = true;
    while (vu.next_iteration()) {
      auto m = vu.measure();
      if (call == 0) {
        thrown_at = m.start();
        throw std::runtime_error("scenario bug");
      }
      if (first_iteration) resumed_at = m.start();
      first_iteration = false;
      m.done(200);
    }
  });
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(errors_of(r, error_kind::other), 1u);
  EXPECT_EQ(r.error_total(), 1u);
  EXPECT_GT(r.requests, 0u);
  EXPECT_NEAR(ms_between(thrown_at, resumed_at), 10.0, 0.001);

  // A function that always throws, before any iteration, is restarted
  // until the end of the run, which still ends on time.
  o.rate = 0;
  o.users = 2;
  o.duration = 50ms * run_scale;
  const report always = run_scenario(rt, o, [](virtual_user&) { throw 42; });
  EXPECT_EQ(always.requests, 0u);
  EXPECT_GT(errors_of(always, error_kind::other), 0u);
  EXPECT_EQ(always.error_total(), errors_of(always, error_kind::other));
}

TEST(LoadScenario, BadOptionsAreRefusedByName) {
  weft::runtime rt(weft::options{.workers = 1});
  const auto refused = [&rt](scenario_options o) -> std::string {
    try {
      run_scenario(rt, o, [](virtual_user&) {});
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };
  scenario_options good;
  good.users = 1;
  good.duration = 1ms;
  EXPECT_EQ(refused(good), "accepted");
  auto o = good;
  o.users = 0;
  EXPECT_NE(refused(o).find("users"), std::string::npos);
  for (const nanoseconds d : {nanoseconds::zero(), nanoseconds(-1)}) {
    o = good;
    o.duration = d;
    EXPECT_NE(refused(o).find("duration"), std::string::npos);
    o = good;
    o.timeout = d;
    EXPECT_NE(refused(o).find("timeout"), std::string::npos);
  }
  for (const double rate :
       {-1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    o = good;
    o.rate = rate;
    EXPECT_NE(refused(o).find("rate"), std::string::npos) << rate;
  }
  // A tiny rate is valid: its first iteration is due at the start, the
  // next one long after the end.
  o = good;
  o.rate = 1e-300;
  EXPECT_EQ(refused(o), "accepted");

  load_plan plan;
  plan.connections = 0;
  EXPECT_THROW(run_load(rt, plan), std::invalid_argument);
}

TEST(LoadScenario, TwoRequestsPerIterationOverHttp) {
  // Against the built-in server, two requests that it answers differently:
  // GET /login gets 200 and keeps the connection; the POST /cart, announcing
  // a chunked body, gets 501 with Connection: close, so the next login
  // reconnects. (The request is its head alone: nothing is left unread when
  // the server closes, so the close is clean, never a reset.)
  constexpr unsigned users = 3;
  weft::runtime rt(weft::options{.workers = 2});
  http_server server(rt, "127.0.0.1", 0);
  const url shop{"127.0.0.1", server.port(), "/"};
  const std::string login = build_request({shop.host, shop.port, "/login"}, {});
  const std::string cart =
      build_request({shop.host, shop.port, "/cart"},
                    {.method = "POST", .headers = {"Transfer-Encoding: chunked"}});
  std::atomic<std::uint64_t> logged_in{0};  // read after run_scenario joined the users
  scenario_options o;
  o.users = users;
  o.duration = 300ms * run_scale;
  const report r = run_scenario(rt, o, [&](virtual_user& vu) {
    http_connection conn(vu, shop);
    while (vu.next_iteration()) {
      const auto in = conn.send(login);
      if (!in || in->status != 200) continue;
      logged_in.fetch_add(1, std::memory_order_relaxed);
      conn.send(cart);
    }
  });
  server.stop();

  const auto count = [&r](int status) {
    const auto it = r.status.find(status);
    return it == r.status.end() ? std::uint64_t{0} : it->second;
  };
  const std::uint64_t logins = count(200);
  const std::uint64_t carts = count(501);
  EXPECT_EQ(r.error_total(), 0u) << format_report(r);
  EXPECT_GT(logins, 0u);
  EXPECT_GT(carts, 0u);
  EXPECT_EQ(r.status.size(), 2u);
  EXPECT_EQ(r.requests, logins + carts);
  // A response that came after the end is returned but not recorded: at
  // most one per user.
  EXPECT_LE(logins, logged_in.load());
  EXPECT_GE(logins + users, logged_in.load());
  // Each cart follows a login of its iteration, and closes its connection.
  EXPECT_LE(carts, logins);
  EXPECT_GE(r.connects, carts);
  EXPECT_LE(r.connects, carts + users);
  EXPECT_GE(server.requests(), logins);  // the server counts its 200s
}

}  // namespace
