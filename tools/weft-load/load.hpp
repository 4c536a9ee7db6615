// weft-load: the built-in HTTP run, every virtual user sending the same
// request over its own keep-alive connection:
//
//   http_connection conn(vu, target);
//   while (vu.next_iteration()) conn.send(request);
//
// With a request mix (--targets, targets_file.hpp) the users take the
// mix's entries in turn, all together: one shared counter says which
// request is next, so an entry listed three times gets three times the
// requests whatever the users' speeds; each user keeps a connection per
// origin (scheme, host and port) the mix names.
//
// It is one scenario (scenario.hpp) among others: the closed and open
// models, the window that opens once every user runs, the users cancelled
// at its end or at a stop (requests in flight counted as cancelled), are
// run_scenario's; connecting, the connect backoff
// of the closed model and the classification of errors are
// http_connection's.
//
// Closed model (no rate): a user sends its next request as soon as the last
// response is in, so the offered load adapts to the server: a server that
// stalls also stalls the users, and the requests they would have sent in
// the meantime are never sent nor measured.
//
// Open model (rate R): requests are due at fixed *intended* times, R per
// second in total, user u of N sending at start + u/R + k*N/R. A user that
// is late (its previous response took longer than N/R) sends at once, and
// every latency is measured from the intended time, not from the moment it
// was sent. A stall of the server thus shows up in the latency of every
// request that should have been sent during it (the coordinated-omission
// correction of wrk2), not just in the one request that was waiting.
#pragma once

#include <chrono>
#include <stop_token>
#include <string>
#include <vector>

#include "report.hpp"
#include "scenario.hpp"
#include "stages.hpp"
#include "targets_file.hpp"
#include "tls.hpp"
#include "url.hpp"
#include "weft/runtime.hpp"

namespace weft::load {

/// What to run.
struct load_plan {
  url target;
  /// For an https target (null: tls_context::default_client()); must
  /// outlive the run.
  const tls_context* tls = nullptr;
  std::string request;  ///< the bytes each request sends (build_request)
  bool head = false;    ///< the method is HEAD (responses have no body)
  unsigned connections = 64;
  std::chrono::nanoseconds duration = std::chrono::seconds(10);
  double rate = 0;  ///< > 0: open model, requests per second in total
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);
  /// A ramp of users or of the rate (scenario_options::stages).
  std::vector<stage> stages;
  /// A request mix: non-empty, it replaces target, request and head.
  std::vector<target_entry> mix;
  /// What the report calls the target; empty: the target's URL.
  std::string name;
  /// Stops the run early (scenario_options::stop).
  std::stop_token stop;
};

/// The origins (scheme, host, port) the plan sends to, each once, in order
/// of first use: the target, or the mix's.
std::vector<url> origins_of(const load_plan& plan);

/// Runs `plan` on `rt` and returns what it measured (target: the URL).
/// Call from a plain thread (it blocks until the run is over), not from one
/// of rt's fibers. Throws std::invalid_argument as run_scenario does for 0
/// connections, a duration or timeout that is not positive, or a bad rate.
report run_load(weft::runtime& rt, const load_plan& plan, const progress_fn& progress = {});

}  // namespace weft::load
