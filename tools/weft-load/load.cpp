// weft-load: run_load, the built-in HTTP run as a scenario (load.hpp).
#include "load.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http_connection.hpp"

namespace weft::load {

namespace {

// One request of the run, built once.
struct prepared_request {
  std::size_t origin;  ///< index in origins_of(plan)
  std::string bytes;
  bool head;
};

std::size_t origin_index(std::vector<url>& origins, const url& u) {
  const auto it = std::find_if(origins.begin(), origins.end(),
                               [&u](const url& o) { return same_origin(o, u); });
  if (it != origins.end()) return static_cast<std::size_t>(it - origins.begin());
  origins.push_back(u);
  return origins.size() - 1;
}

}  // namespace

std::vector<url> origins_of(const load_plan& plan) {
  std::vector<url> origins;
  if (plan.mix.empty()) origins.push_back(plan.target);
  for (const target_entry& e : plan.mix) origin_index(origins, e.target);
  return origins;
}

report run_load(weft::runtime& rt, const load_plan& plan, const progress_fn& progress) {
  std::vector<url> origins;
  std::vector<prepared_request> requests;
  if (plan.mix.empty()) {
    requests.push_back({origin_index(origins, plan.target), plan.request, plan.head});
  }
  for (const target_entry& e : plan.mix) {
    requests.push_back({origin_index(origins, e.target), build_request(e.target, e.request),
                        e.request.method == "HEAD"});
  }
  // The number of requests taken so far, by all users: the next one's
  // index, modulo the mix. Relaxed: only its atomicity matters.
  std::atomic<std::uint64_t> taken{0};

  scenario_options options;
  options.users = plan.connections;
  options.duration = plan.duration;
  options.rate = plan.rate;
  options.timeout = plan.timeout;
  options.name = plan.name.empty() ? plan.target.str() : plan.name;
  options.stages = plan.stages;
  options.stop = plan.stop;
  return run_scenario(
      rt, options,
      [&](virtual_user& vu) {
        std::vector<std::unique_ptr<http_connection>> conns(origins.size());
        while (vu.next_iteration()) {
          const prepared_request& r =
              requests.size() == 1
                  ? requests.front()
                  : requests[taken.fetch_add(1, std::memory_order_relaxed) % requests.size()];
          auto& conn = conns[r.origin];
          if (!conn) conn = std::make_unique<http_connection>(vu, origins[r.origin], plan.tls);
          conn->send(r.bytes, r.head);
        }
      },
      progress);
}

}  // namespace weft::load
