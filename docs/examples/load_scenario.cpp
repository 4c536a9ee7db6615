// A custom weft-load scenario (docs/load-testing.md, "Writing a custom
// scenario"): each virtual user is a plain sequential function that, in a
// loop, logs in (GET /login) and then adds an item to its cart (POST
// /cart) over its own keep-alive connection. Four users run it for 300 ms
// in the closed model against weft-load's built-in server (which answers
// 200 to every request), and the report is printed as `weft-load` prints
// its own. Exits 0 if requests completed.
#include <chrono>
#include <cstdio>
#include <string>

#include "http_client.hpp"      // build_request
#include "http_connection.hpp"  // http_connection
#include "report.hpp"           // report, format_report
#include "scenario.hpp"         // scenario_options, virtual_user, run_scenario
#include "server.hpp"           // http_server
#include "weft/weft.hpp"

int main() {
  using namespace std::chrono_literals;
  using namespace weft::load;
  weft::runtime rt(weft::options{.workers = 2});
  http_server server(rt, "127.0.0.1", 0);  // any free port

  // The requests, built once: every iteration sends the same bytes.
  const url site{"127.0.0.1", server.port(), "/"};
  const std::string login = build_request({site.host, site.port, "/login"}, {});
  const std::string add_to_cart = build_request(
      {site.host, site.port, "/cart"},
      {.method = "POST", .headers = {"Content-Type: application/json"}, .body = R"({"item":42})"});

  scenario_options options;
  options.users = 4;
  options.duration = 300ms;
  options.timeout = 2s;  // per request
  // options.rate = 400;  // open model: 400 iterations/s in total instead
  options.name = "login + cart @ " + site.str();

  const report r = run_scenario(rt, options, [&](virtual_user& vu) {
    http_connection conn(vu, site);            // opened by the first send, reopened after an error
    while (vu.next_iteration()) {              // false once the run is over
      const auto in = conn.send(login);        // measured and recorded
      if (!in || in->status != 200) continue;  // failed (recorded): next iteration
      conn.send(add_to_cart);
    }
  });
  server.stop();

  std::printf("Scenario %s\n", r.target.c_str());
  std::fputs(format_report(r).c_str(), stdout);
  return r.requests > 0 ? 0 : 1;
}
