// weft::trace (docs/diagnostics.md, "Traces"): the Chrome trace-event file
// it writes, read back as JSON.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "weft-" + std::to_string(getpid()) + "-" + name + ".json";
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Runs a ping-pong of two named fibers over unbuffered channels, spawned
// from a fiber, on one worker, while recording.
nlohmann::json record_ping_pong(int rounds) {
  const std::string path = temp_path("pingpong");
  weft::runtime rt(weft::options{.workers = 1});
  weft::trace::start(path);
  EXPECT_TRUE(weft::trace::active());
  rt.block_on([rounds] {
    weft::channel<int> ping(0), pong(0);
    auto a = weft::spawn(weft::spawn_options{.name = "pinger"}, [=]() mutable {
      for (int i = 0; i < rounds; ++i) {
        ping.send(i);
        (void)pong.recv();
      }
    });
    auto b = weft::spawn(weft::spawn_options{.name = "ponger"}, [=]() mutable {
      for (int i = 0; i < rounds; ++i) pong.send(*ping.recv());
    });
    a.join();
    b.join();
  });
  weft::trace::stop();
  EXPECT_FALSE(weft::trace::active());
  nlohmann::json trace = read_json(path);
  std::remove(path.c_str());
  return trace;
}

TEST(Trace, RecordsRunsSpawnsParksAndWakesWithFlowArrows) {
  const nlohmann::json trace = record_ping_pong(10);
  ASSERT_TRUE(trace.contains("traceEvents"));
  std::map<std::string, int> runs_by_name;
  std::map<std::string, int> instants;
  std::set<std::string> park_reasons;
  std::map<std::uint64_t, int> flow_starts, flow_ends;
  bool worker_track_named = false;
  for (const auto& e : trace["traceEvents"]) {
    const std::string ph = e["ph"];
    if (ph == "M" && e["args"]["name"] == "weft-0") worker_track_named = true;
    if (ph == "X") {
      ++runs_by_name[e["name"]];
      EXPECT_GE(e["dur"].get<double>(), 0.0);
    }
    if (ph == "i") {
      ++instants[e["name"]];
      if (e["name"] == "park") park_reasons.insert(e["args"]["reason"].get<std::string>());
    }
    if (ph == "s") ++flow_starts[e["id"].get<std::uint64_t>()];
    if (ph == "f") ++flow_ends[e["id"].get<std::uint64_t>()];
  }
  EXPECT_TRUE(worker_track_named);
  // Each round parks both fibers at least once: many runs each, by name.
  EXPECT_GE(runs_by_name["pinger"], 10);
  EXPECT_GE(runs_by_name["ponger"], 10);
  EXPECT_GE(instants["spawn"], 2);
  EXPECT_GE(instants["park"], 20);
  EXPECT_GE(instants["wake"], 10);
  EXPECT_TRUE(park_reasons.contains("channel receive") || park_reasons.contains("channel send"));
  // Every arrow that ends started: a wake or a spawn caused that run.
  EXPECT_GE(flow_ends.size(), 20u);
  for (const auto& [id, count] : flow_ends) {
    EXPECT_EQ(count, 1) << "flow " << id;
    EXPECT_EQ(flow_starts[id], 1) << "flow " << id << " ends without a start";
  }
}

TEST(Trace, MisuseIsAClearError) {
  const std::string path = temp_path("misuse");
  EXPECT_NO_THROW(weft::trace::stop());  // not recording: nothing to do
  weft::trace::start(path);
  EXPECT_THROW(weft::trace::start(path), std::runtime_error);
  weft::trace::stop();
  EXPECT_TRUE(read_json(path).contains("traceEvents"));  // an empty trace is still a trace
  std::remove(path.c_str());
  EXPECT_THROW(weft::trace::start("/nonexistent-directory/trace.json"), std::runtime_error);
  EXPECT_FALSE(weft::trace::active());
}

TEST(Trace, SecondRecordingHoldsOnlyItsOwnEvents) {
  (void)record_ping_pong(5);
  const nlohmann::json trace = record_ping_pong(3);
  // Three rounds park the pinger twice each (send, receive): about 7 runs.
  // The first recording's 5 rounds would add 11 more.
  int pinger_runs = 0;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "X" && e["name"] == "pinger") ++pinger_runs;
  }
  EXPECT_GE(pinger_runs, 3);
  EXPECT_LT(pinger_runs, 3 * 2 + 4);
}

// WEFT_TRACE=<file> records a whole program that knows nothing of tracing
// (the pipeline example), written at its exit.
TEST(Trace, EnvironmentRecordsAWholeRun) {
  const std::string path = temp_path("environment");
  const pid_t child =
      weft::test::spawn_with_environment({WEFT_PIPELINE_EXAMPLE}, {"WEFT_TRACE=" + path});
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const nlohmann::json trace = read_json(path);
  std::remove(path.c_str());
  std::size_t runs = 0;
  for (const auto& e : trace["traceEvents"]) runs += e["ph"] == "X";
  EXPECT_GT(runs, 100u);  // 10,000 items through three stages
}

}  // namespace
