// weft-load: the virtual users and the run that drives them.
//
// Each virtual user is a plain sequential fiber with its own keep-alive
// connection: connect; loop { write the request; read the response }.
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
//
// The duration starts once every user's fiber is running. Requests still in
// flight when it ends are dropped, neither counted nor errors, so a run
// lasts its duration (as with wrk).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "report.hpp"
#include "url.hpp"
#include "weft/runtime.hpp"

namespace weft::load {

/// What to run.
struct load_plan {
  url target;
  std::string request;  ///< the bytes each request sends (build_request)
  bool head = false;    ///< the method is HEAD (responses have no body)
  unsigned connections = 64;
  std::chrono::nanoseconds duration = std::chrono::seconds(10);
  double rate = 0;  ///< > 0: open model, requests per second in total
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);
};

/// Called about once a second, on the thread that called run_load, with the
/// counts so far and the seconds since the start.
using progress_fn = std::function<void(const report& so_far, double elapsed_s)>;

/// Runs `plan` on `rt` and returns what it measured. Call from a plain
/// thread (it blocks until the run is over), not from one of rt's fibers.
report run_load(weft::runtime& rt, const load_plan& plan, const progress_fn& progress = {});

}  // namespace weft::load
