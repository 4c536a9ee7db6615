#include "cli.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <system_error>
#include <thread>

#include "duration.hpp"
#include "html_report.hpp"
#include "interrupt.hpp"
#include "load.hpp"
#include "options.hpp"
#include "report.hpp"
#include "server.hpp"
#include "targets_file.hpp"
#include "tls.hpp"
#include "transport.hpp"
#include "weft/net.hpp"
#include "weft/runtime.hpp"

namespace weft::load {

namespace {

// Writes `text` to `path`; false, after a message naming `option`, if it
// cannot.
bool write_file(const std::string& path, const std::string& text, const char* option,
                std::ostream& err) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) err << "weft-load: " << option << ": cannot write '" << path << "'\n";
  return static_cast<bool>(file);
}

// Writes the report (table and, if asked, JSON and HTML) and checks the
// thresholds.
int finish(const report& r, const output_options& o, std::ostream& out, std::ostream& err) {
  const bool json_to_stdout = o.json_path && *o.json_path == "-";
  (json_to_stdout ? err : out) << format_report(r) << std::flush;
  if (json_to_stdout) {
    out << to_json_text(r) << std::flush;
  } else if (o.json_path && !write_file(*o.json_path, to_json_text(r), "--json", err)) {
    return exit_usage;
  }
  if (o.html_path && !write_file(*o.html_path, html_report(r), "--html", err)) return exit_usage;
  int code = exit_ok;
  for (const threshold& t : o.fail_if) {
    if (const auto crossed = check(t, r)) {
      err << "weft-load: threshold " << *crossed << '\n';
      code = exit_threshold;
    }
  }
  return code;
}

// The live progress line: requests/s over the last interval, p99 and errors
// so far, rewritten in place with '\r'.
class progress_line {
 public:
  explicit progress_line(std::ostream& err) : err_(err) {}
  void operator()(const report& r, double elapsed_s) {
    const double dt = elapsed_s - last_s_;
    const double rps = dt > 0 ? static_cast<double>(r.requests - last_requests_) / dt : 0.0;
    last_s_ = elapsed_s;
    last_requests_ = r.requests;
    char line[160];
    std::snprintf(line, sizeof line, "\r  [%6.1fs] %10.0f req/s   p99 %8s   errors %llu ",
                  elapsed_s, rps, format_nanoseconds(r.latency.quantile(0.99)).c_str(),
                  static_cast<unsigned long long>(r.error_total()));
    err_ << line << std::flush;
    shown_ = true;
  }
  void clear() {
    if (shown_) err_ << "\r\033[K" << std::flush;
  }

 private:
  std::ostream& err_;
  double last_s_ = 0;
  std::uint64_t last_requests_ = 0;
  bool shown_ = false;
};

// The runtime for --workers; nullptr (after the message) if it refuses them.
std::unique_ptr<weft::runtime> make_runtime(unsigned workers, const char* name, std::ostream& err) {
  try {
    return std::make_unique<weft::runtime>(weft::options{.workers = workers, .name = name});
  } catch (const std::invalid_argument& e) {
    err << "weft-load: --workers: " << e.what() << '\n';
    return nullptr;
  }
}

// Connects once to `origin` (with the TLS handshake for https): false,
// after the message, if that fails.
bool reachable(weft::runtime& rt, const url& origin, const tls_context* tls,
               std::chrono::nanoseconds timeout, std::ostream& err) {
  try {
    rt.block_on([&] {
      transport probe;
      probe.open(net::tcp_stream::connect(origin.host, origin.port, timeout),
                 origin.tls ? tls : nullptr, origin.host);
      probe.handshake(transport::clock::now() + timeout);
    });
    return true;
  } catch (const std::system_error& e) {
    err << "weft-load: cannot reach " << origin.authority() << ": " << e.what() << '\n';
  } catch (const tls_error& e) {
    err << "weft-load: " << origin.authority() << ": " << e.what()
        << (e.kind() == tls_failure::verify
                ? " (trust its CA with --cacert FILE, or skip the check with -k)"
                : "")
        << '\n';
  }
  return false;
}

int run(const run_options& o, std::ostream& out, std::ostream& err) {
  load_plan plan;
  if (!o.targets_file.empty()) {
    try {
      plan.mix = read_targets_file(o.targets_file);
    } catch (const targets_error& e) {
      err << "weft-load: --targets: " << e.what() << '\n';
      return exit_usage;
    }
    plan.name = o.targets_file;
  }
  // Before the runtime: its threads inherit the blocked SIGINT.
  const interrupt_watch interrupt;
  const auto rt = make_runtime(o.workers, "weft-load", err);
  if (!rt) return exit_usage;
  std::unique_ptr<http_server> server;
  if (o.target) {
    plan.target = *o.target;
  } else if (plan.mix.empty()) {
    server = std::make_unique<http_server>(*rt, "127.0.0.1", 0);
    plan.target = url{"127.0.0.1", server->port(), "/"};
  }
  const std::vector<url> origins = origins_of(plan);

  std::optional<tls_context> tls;
  if (std::any_of(origins.begin(), origins.end(), [](const url& u) { return u.tls; })) {
    try {
      tls = tls_context::client(o.tls);
    } catch (const std::invalid_argument& e) {
      err << "weft-load: --cacert: " << e.what() << '\n';
      return exit_usage;
    }
  }

  // One connection first to each origin: a name that does not resolve, a
  // port nobody listens on or a TLS handshake that fails (an untrusted
  // certificate) ends the run here (exit 2) instead of as a table of errors.
  for (const url& origin : origins) {
    if (!reachable(*rt, origin, tls ? &*tls : nullptr, o.timeout, err)) return exit_unreachable;
  }

  if (o.start_at) {
    // Everyone connected first: a late machine starts at once, with a word.
    const auto wait = *o.start_at - std::chrono::system_clock::now();
    if (wait > std::chrono::system_clock::duration::zero()) {
      err << "weft-load: starting in " << format_duration(wait) << " (--start-at)\n" << std::flush;
      std::this_thread::sleep_until(*o.start_at);
    } else if (wait < -std::chrono::seconds(1)) {
      err << "weft-load: --start-at was " << format_duration(-wait) << " ago; starting now\n";
    }
  }

  plan.tls = tls ? &*tls : nullptr;
  plan.request = build_request(plan.target, o.request);
  plan.head = o.request.method == "HEAD";
  plan.connections = o.connections;
  plan.duration = o.duration;
  plan.rate = o.rate;
  plan.timeout = o.timeout;
  plan.stages = o.stages;
  plan.stop = interrupt.token();

  const bool json_to_stdout = o.output.json_path && *o.output.json_path == "-";
  std::ostream& table = json_to_stdout ? err : out;
  table << "Running " << format_duration(o.duration) << " test @ ";
  if (plan.mix.empty()) {
    table << plan.target.str() << (server ? " (built-in server)" : "");
  } else {
    table << o.targets_file << " (" << plan.mix.size() << " requests, taken in turn)";
  }
  table << " (Ctrl-C stops)\n" << std::flush;
  progress_line line(err);
  progress_fn progress;
  if (!o.output.quiet && ::isatty(STDERR_FILENO)) {
    progress = [&line](const report& r, double s) { line(r, s); };
  }
  const report r = run_load(*rt, plan, progress);
  line.clear();
  if (server) server->stop();

  const int code = finish(r, o.output, out, err);
  static_assert(interrupt_watch::exit_status == exit_interrupted);
  if (r.interrupted) return exit_interrupted;
  if (r.connects == 0) {
    err << "weft-load: no connection to "
        << (plan.mix.empty() ? plan.target.authority() : o.targets_file + "'s targets")
        << " succeeded\n";
    return exit_unreachable;
  }
  return code;
}

int merge_reports(const merge_options& o, std::ostream& out, std::ostream& err) {
  std::vector<report> parts;
  for (const std::string& path : o.files) {
    std::string text;
    if (path == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream file(path, std::ios::binary);
      if (!file) {
        err << "weft-load: merge: cannot read '" << path << "'\n";
        return exit_usage;
      }
      text.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    }
    try {
      parts.push_back(from_json_text(text));
    } catch (const report_format_error& e) {
      err << "weft-load: merge: " << path << ": " << e.what() << '\n';
      return exit_usage;
    }
  }
  return finish(merge(parts), o.output, out, err);
}

int serve(const serve_options& o, std::ostream& out, std::ostream& err) {
  // Without a duration the server runs until SIGINT or SIGTERM, taken with
  // sigwait: blocked here, before the workers start, so that every thread
  // inherits the mask and the signal reaches this thread only.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (!o.duration) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::optional<tls_context> tls;
  if (!o.tls_cert.empty()) {
    try {
      tls = tls_context::server(o.tls_cert, o.tls_key);
    } catch (const std::invalid_argument& e) {
      err << "weft-load: serve: --tls-cert/--tls-key: " << e.what() << '\n';
      return exit_usage;
    }
  }
  const auto rt = make_runtime(o.workers, "weft-serve", err);
  if (!rt) return exit_usage;
  std::unique_ptr<http_server> server;
  try {
    server = std::make_unique<http_server>(*rt, o.host, o.port, tls ? &*tls : nullptr);
  } catch (const std::system_error& e) {
    err << "weft-load: serve: cannot listen on " << o.host << ':' << o.port << ": " << e.what()
        << '\n';
    return exit_usage;
  }
  out << "weft-load: serving on " << url{o.host, server->port(), "/", tls.has_value()}.str()
      << (o.duration ? "" : " (Ctrl-C stops)") << '\n'
      << std::flush;
  if (o.duration) {
    std::this_thread::sleep_for(*o.duration);
  } else {
    int sig = 0;
    sigwait(&stop_signals, &sig);
  }
  server->stop();
  out << "weft-load: served " << server->requests() << " requests\n";
  return exit_ok;
}

}  // namespace

int run_cli(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  command cmd;
  try {
    cmd = parse_command_line(args);
  } catch (const usage_error& e) {
    err << "weft-load: " << e.what() << '\n';
    return exit_usage;
  }
  if (const auto* info = std::get_if<info_request>(&cmd)) {
    out << info->text;
    return exit_ok;
  }
  if (const auto* m = std::get_if<merge_options>(&cmd)) return merge_reports(*m, out, err);
  if (const auto* s = std::get_if<serve_options>(&cmd)) return serve(*s, out, err);
  return run(std::get<run_options>(cmd), out, err);
}

}  // namespace weft::load
