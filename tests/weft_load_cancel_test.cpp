// weft-load: cancellation (scenario.hpp, interrupt.hpp). Requests in flight
// when a run ends or is stopped are cancelled, counted as `cancelled`, and
// neither responses nor errors; the users of a custom scenario are
// cancelled the same way; a stage's ramp-down knows when each user stops;
// and a SIGINT, in process and sent to the weft-load binary, stops the run,
// prints its report and exits 130. Every run is stopped by a condition (a
// server that saw its requests), never by a sleep; where a run ends by its
// duration, the asserts are the accounting the code guarantees, whatever
// the timing. Loopback only.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <span>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

#include "cli.hpp"
#include "http_client.hpp"
#include "load.hpp"
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

// Reads until the client closes: a request that is never answered.
void never_answer(weft::net::tcp_stream& s) {
  char buf[1024];
  while (s.read_some(std::as_writable_bytes(std::span(buf))) != 0) {
  }
}

// Answers the first `answered` requests (over every connection) with 200
// and none after them; calls `then` once it holds `parked` unanswered ones.
class counting_server {
 public:
  counting_server(weft::runtime& rt, std::uint64_t answered, std::uint64_t parked,
                  std::function<void()> then)
      : answered_(answered),
        parked_(parked),
        then_(std::move(then)),
        server_(rt, [this](weft::net::tcp_stream& s) { serve(s); }) {}
  [[nodiscard]] std::uint16_t port() const { return server_.port(); }

 private:
  void serve(weft::net::tcp_stream& s) {
    static const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    while (read_request(s)) {
      if (seen_.fetch_add(1) < answered_) {
        s.write_all(std::as_bytes(std::span(response)));
        continue;
      }
      if (held_.fetch_add(1) + 1 == parked_) then_();
      return never_answer(s);
    }
  }

  std::uint64_t answered_;
  std::uint64_t parked_;
  std::function<void()> then_;
  std::atomic<std::uint64_t> seen_{0};  ///< requests read
  std::atomic<std::uint64_t> held_{0};  ///< requests left unanswered
  scripted_server server_;              // last: stopped before the rest goes
};

load_plan plan_for(std::uint16_t port, unsigned connections) {
  load_plan plan;
  plan.target = url{"127.0.0.1", port, "/"};
  plan.request = build_request(plan.target, {});
  plan.connections = connections;
  plan.timeout = 1h;  // only a cancellation ends a parked request in time
  return plan;
}

// The duration ends while every request the server read is parked: the run
// ends without waiting for the (hour-long) timeout, and each request in
// flight is counted as cancelled, not as an error nor a response.
TEST(LoadCancel, RequestsParkedAtTheEndAreCancelled) {
  weft::runtime rt(weft::options{.workers = 2});
  scripted_server server(rt, never_answer);
  load_plan plan = plan_for(server.port(), 4);
  plan.duration = 300ms * run_scale;
  const report r = run_load(rt, plan);

  EXPECT_EQ(r.requests, 0u);
  EXPECT_EQ(r.error_total(), 0u);
  EXPECT_FALSE(r.interrupted);
  // A user that connected in the window sent its request at once (no wait
  // between the two), and that request never got an answer.
  EXPECT_LE(r.connects, 4u);
  EXPECT_EQ(r.cancelled, r.connects);
  EXPECT_DOUBLE_EQ(r.duration_s, 0.3 * run_scale);
  const std::string text = format_report(r);
  EXPECT_EQ(text.find("Cancelled") != std::string::npos, r.cancelled > 0) << text;
}

// A stop requested once the server holds one unanswered request per user:
// exactly those are cancelled, the answered ones are responses, and the
// report says the run was interrupted and covers the time that ran.
TEST(LoadCancel, AStopCancelsTheRequestsInFlight) {
  weft::runtime rt(weft::options{.workers = 2});
  std::stop_source stop;
  constexpr unsigned users = 4;
  constexpr std::uint64_t answered = 40;
  // Closed model: every user sends again once answered, so each ends up
  // with one request parked, and the stop comes when the last is read.
  counting_server server(rt, answered, users, [&stop] { stop.request_stop(); });
  load_plan plan = plan_for(server.port(), users);
  plan.duration = 1h;
  plan.stop = stop.get_token();
  const report r = run_load(rt, plan);

  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.cancelled, users);
  EXPECT_EQ(r.requests, answered);
  EXPECT_EQ(r.error_total(), 0u);
  EXPECT_LT(r.duration_s, 3600);
  // The timeline covers what ran (not the hour planned) and adds up.
  EXPECT_GE(r.timeline.size(), static_cast<std::size_t>(std::ceil(r.duration_s)));
  EXPECT_LT(r.timeline.size(), 3600u);
  std::uint64_t in_seconds = 0;
  for (const timeline_second& s : r.timeline) in_seconds += s.requests;
  EXPECT_EQ(in_seconds, r.requests);
  EXPECT_NE(format_report(r).find("Interrupted"), std::string::npos);
}

// A custom scenario: the users' fibers are cancelled at the end, a user
// parked in a measured wait is counted as cancelled, and the clean-up a
// user does as it unwinds runs.
TEST(LoadCancel, ScenarioUsersAreCancelledAtTheEnd) {
  weft::runtime rt(weft::options{.workers = 2});
  scenario_options o;
  o.users = 6;
  o.duration = 200ms * run_scale;
  weft::channel<int> never;  // nothing is ever sent
  std::atomic<unsigned> measured{0};
  std::atomic<unsigned> unwound{0};
  std::atomic<unsigned> returned{0};
  const report r = run_scenario(rt, o, [&](virtual_user& vu) {
    struct on_unwind {
      std::atomic<unsigned>& n;
      ~on_unwind() { n.fetch_add(1); }
    } guard{unwound};
    while (vu.next_iteration()) {
      auto m = vu.measure();
      measured.fetch_add(1);
      (void)never.recv();  // parks until cancelled
      m.done(200);
    }
    returned.fetch_add(1);
  });

  EXPECT_EQ(r.requests, 0u);
  EXPECT_EQ(r.error_total(), 0u);
  EXPECT_EQ(r.cancelled, measured.load());  // every measured wait, cancelled
  EXPECT_LE(measured.load(), o.users);
  // Every call of the function ended: cancelled in its wait, or (a user
  // that came to next_iteration() after the end) returned.
  EXPECT_EQ(unwound.load(), measured.load() + returned.load());
}

// Stages: a user parked in a measured wait when the ramp takes it out is
// cancelled there (counted as cancelled), while a weft::timeout_error the
// user's own with_timeout throws is an error like any exception. Which of
// the two calls the ramp's window leaves time for is the scheduler's
// business: the asserts are the accounting, whatever it did.
TEST(LoadCancel, RampDownCancelsAParkedUserOwnTimeoutsAreErrors) {
  weft::runtime rt(weft::options{.workers = 2});
  const auto d = [](int ms) { return nanoseconds(std::chrono::milliseconds(ms * run_scale)); };
  scenario_options o;
  o.stages = {{d(20), 1}, {d(150), 1}, {d(1), 0}, {d(50), 0}};
  weft::channel<int> never;
  std::atomic<unsigned> calls{0};
  std::atomic<unsigned> own_timeouts{0};
  std::atomic<unsigned> measured{0};
  std::atomic<bool> past_end{false};
  const report r = run_scenario(rt, o, [&](virtual_user& vu) {
    if (calls.fetch_add(1) == 0) {
      own_timeouts.fetch_add(1);
      weft::with_timeout(0ms, [] { weft::this_fiber::sleep_for(1h); });  // throws timeout_error
    }
    if (!vu.next_iteration()) return;
    auto m = vu.measure();
    measured.fetch_add(1);
    (void)never.recv();  // parks until the ramp-down (or the end) cancels it
    past_end = true;
    m.done(200);
  });

  EXPECT_FALSE(past_end.load());
  EXPECT_EQ(r.requests, 0u);
  EXPECT_EQ(r.errors[static_cast<std::size_t>(error_kind::other)], own_timeouts.load());
  EXPECT_EQ(r.error_total(), own_timeouts.load());
  EXPECT_EQ(r.cancelled, measured.load());
  EXPECT_LE(measured.load(), 1u);  // one window, one parked call at most
}

// The stop token's callback may run before the run starts: a run stopped
// already ends at once with an empty, interrupted report.
TEST(LoadCancel, AStopBeforeTheStartEndsTheRunAtOnce) {
  weft::runtime rt(weft::options{.workers = 2});
  std::stop_source stop;
  stop.request_stop();
  scenario_options o;
  o.users = 3;
  o.duration = 1h;
  o.stop = stop.get_token();
  const report r = run_scenario(rt, o, [](virtual_user& vu) {
    while (vu.next_iteration()) weft::this_fiber::sleep_for(1h);
  });
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.requests, 0u);
  EXPECT_LT(r.duration_s, 3600);
}

// The ramp's stop times mirror its start times.
TEST(LoadCancel, RampSaysWhenAUserStops) {
  // 0 -> 4 over 4 s, held 2 s, 4 -> 0 over 4 s.
  const ramp r(0, {{4s, 4}, {2s, 4}, {4s, 0}});
  // User 3 runs from 4 s (level 4) until the level drops below 4 at 6 s.
  ASSERT_TRUE(r.stops(3, 4s).has_value());
  EXPECT_NEAR(static_cast<double>(r.stops(3, 4s)->count()), 6e9, 1e4);
  // User 0 runs until the level drops below 1: 3 s into the ramp-down.
  EXPECT_NEAR(static_cast<double>(r.stops(0, 2s)->count()), 9e9, 1e4);
  EXPECT_EQ(r.users_at(*r.stops(0, 2s)), 0u);
  EXPECT_EQ(r.users_at(*r.stops(0, 2s) - 1ms), 1u);
  // Not running at `from`: it stops there.
  EXPECT_EQ(r.stops(3, 1s), 1s);
  // A user the ramp keeps to the end never stops.
  const ramp hold(0, {{1s, 2}, {1s, 2}});
  EXPECT_FALSE(hold.stops(0, 1s).has_value());
}

// Ctrl-C in process: SIGINT blocked here first (every thread created from
// now on inherits it), so only the run's watch takes it; the server sends
// it to the process once it holds a request it will not answer.
TEST(LoadCancel, SigintStopsTheRunPrintsItsReportAndExits130) {
  sigset_t sigint;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  sigset_t old{};
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &sigint, &old), 0);
  {
    weft::runtime rt(weft::options{.workers = 1});
    counting_server server(rt, 20, 1, [] { ::kill(::getpid(), SIGINT); });
    const temp_dir dir("cancel_sigint");
    const std::string json = dir.file("r.json");
    const cli_result c = cli({"http://127.0.0.1:" + std::to_string(server.port()) + "/", "-c", "1",
                              "-d", "1h", "-w", "2", "--timeout", "1h", "--json", json});
    EXPECT_EQ(c.code, exit_interrupted) << c.err;
    EXPECT_NE(c.out.find("Interrupted"), std::string::npos) << c.out;
    EXPECT_NE(c.out.find("Requests"), std::string::npos) << c.out;
    std::ifstream file(json);
    const std::string text((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
    const report r = from_json_text(text);
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(r.requests, 20u);  // one user: each answer read before the next request
    EXPECT_EQ(r.cancelled, 1u);
    EXPECT_EQ(r.error_total(), 0u);
  }
  // The SIGINT was taken by the watch: none is left pending.
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGINT));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

#ifdef WEFT_LOAD_EXE
// The binary: started with its output on a pipe, sent SIGINT once it said
// it is running, it prints the report and exits 130.
TEST(LoadCancel, BinaryExits130OnSigintWithAReport) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execl(WEFT_LOAD_EXE, WEFT_LOAD_EXE, "-c", "2", "-d", "1h", "-w", "1", "--quiet",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  char buf[4096];
  bool signalled = false;
  for (;;) {
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    // "Running ..." is printed once the watch takes SIGINT.
    if (!signalled && text.find('\n') != std::string::npos) {
      ASSERT_NE(text.find("Running"), std::string::npos) << text;
      ::kill(pid, SIGINT);
      signalled = true;
    }
  }
  ::close(out[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_NE(text.find("Interrupted"), std::string::npos) << text;
  EXPECT_NE(text.find("Requests/s"), std::string::npos) << text;
}
#endif

}  // namespace
