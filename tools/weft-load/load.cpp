// weft-load: run_load, the built-in HTTP run as a scenario (load.hpp).
#include "load.hpp"

#include "http_connection.hpp"

namespace weft::load {

report run_load(weft::runtime& rt, const load_plan& plan, const progress_fn& progress) {
  scenario_options options;
  options.users = plan.connections;
  options.duration = plan.duration;
  options.rate = plan.rate;
  options.timeout = plan.timeout;
  options.name = plan.target.str();
  options.stages = plan.stages;
  return run_scenario(
      rt, options,
      [&plan](virtual_user& vu) {
        http_connection conn(vu, plan.target, plan.tls);
        while (vu.next_iteration()) conn.send(plan.request, plan.head);
      },
      progress);
}

}  // namespace weft::load
