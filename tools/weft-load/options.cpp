// weft-load: the command line, parsed by CLI11 (libcli11-dev).
//
// Each call builds its own CLI::App (struct parser), so nothing is global
// and parsing is re-entrant: the run's options and URL on the app itself,
// `merge` and `serve` as its subcommands. CLI11 splits the arguments
// (--name value, --name=value, -n value, -nvalue) and writes the help; the
// values are weft-load's own business: each goes through one CLI11 validator
// that parses it with the tool's parsers (parse_duration, parse_threshold, a
// range check, ...) and stores the result, and the reason a parser gives
// becomes CLI11's "--name: reason". CLI11 never prints or exits: -h/--help
// and --version throw as soon as they are seen and come back as
// info_request, every other CLI11 error as usage_error. Unknown options and
// stray arguments are left over by CLI11 (allow_extras) so that the message
// naming them is ours; "--" is taken off before CLI11 sees the arguments.
#include "options.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "duration.hpp"
#include "http_client.hpp"
#include "stages.hpp"

namespace weft::load {

namespace {

// The most virtual users one process takes: each is a fiber with a 64 KiB
// stack and a socket; a million would exceed the default descriptor limit
// long before, but the bound keeps the arithmetic far from overflow.
constexpr unsigned max_connections = 1'000'000;
// Keeps options::workers within what the runtime accepts.
constexpr unsigned max_workers = 1024;

constexpr std::string_view version_text = "weft-load (weft 0.1.0)";

// ---- values ---------------------------------------------------------------------------------
// Each parser throws std::invalid_argument saying what is wrong with the
// text, without naming the option: CLI11 adds that.

unsigned parse_count(std::string_view text, unsigned min, unsigned max) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size()) {
    throw std::invalid_argument("'" + std::string(text) + "' is not a whole number");
  }
  if (ec == std::errc::result_out_of_range || v < min || v > max) {
    throw std::invalid_argument("'" + std::string(text) + "' is out of range (" +
                                std::to_string(min) + ".." + std::to_string(max) + ")");
  }
  return v;
}

std::chrono::nanoseconds parse_positive_duration(std::string_view text) {
  const auto d = parse_duration(text);
  if (d <= std::chrono::nanoseconds::zero()) throw std::invalid_argument("must be more than zero");
  return d;
}

double parse_rate(std::string_view text) {
  double r = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), r);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(r) ||
      r <= 0 || r > 1e9) {
    throw std::invalid_argument("'" + std::string(text) +
                                "' is not a rate in requests/s (a number > 0)");
  }
  return r;
}

// A Unix time in seconds, fractions allowed ("1764750000", "1764750000.25").
std::chrono::system_clock::time_point parse_unix_time(std::string_view text) {
  double seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(seconds) || seconds <= 0 || seconds > 1e11) {
    throw std::invalid_argument("'" + std::string(text) +
                                "' is not a Unix time in seconds (e.g. $(date +%s) + 10)");
  }
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(seconds)));
}

std::string non_empty_file_name(const std::string& text) {
  if (text.empty()) throw std::invalid_argument("needs a file name");
  return text;
}

// ---- declaring options ----------------------------------------------------------------------

// Declares an option taking one value per occurrence (`placeholder` stands
// for it in the help) and gives every value, in the order given, to `apply`,
// which parses it and stores the result; an std::invalid_argument from
// `apply` rejects the command line with "--name: what". Repeating an option
// applies each value: the last wins, or they add up (-H, --fail-if).
CLI::Option* add_value(CLI::App& app, const std::string& names, const std::string& placeholder,
                       const std::string& help, std::function<void(const std::string&)> apply) {
  CLI::Option* opt = app.add_option(names, help);
  opt->type_name(placeholder);
  opt->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  opt->check(CLI::Validator(
      [apply = std::move(apply)](std::string& value) -> std::string {
        try {
          apply(value);
        } catch (const std::invalid_argument& e) {
          return e.what();
        }
        return {};
      },
      ""));
  return opt;
}

// What every command has: -h/--help and --version, answered as soon as they
// are seen (trigger_on_parse), before any value is checked; and extras kept
// rather than thrown, for parse_command_line's own messages.
void add_common(CLI::App& app) {
  app.set_help_flag();  // CLI11's would be seen only after the values are checked
  app.add_flag_callback(
         "-h,--help", [] { throw CLI::CallForHelp(); }, "this text")
      ->trigger_on_parse()
      ->disable_flag_override();
  app.add_flag_callback(
         "--version", [] { throw CLI::CallForVersion(std::string(version_text), 0); },
         "the version of weft-load")
      ->trigger_on_parse()
      ->disable_flag_override();
  app.allow_extras();
}

// The options every command that reports has.
void add_output_options(CLI::App& app, output_options& out) {
  add_value(app, "--json", "FILE",
            "the report as JSON ('-': stdout; the table then goes to stderr)",
            [&out](const std::string& v) {
              if (v.empty()) throw std::invalid_argument("needs a file name ('-': stdout)");
              out.json_path = v;
            });
  add_value(app, "--html", "FILE",
            "a self-contained HTML report: requests/s and p50/p99 over\n"
            "time, the latency by percentile, status codes and errors",
            [&out](const std::string& v) { out.html_path = non_empty_file_name(v); });
  add_value(app, "--fail-if", "COND",
            "exit 3 if COND holds, e.g. 'p99>50ms', 'errors>1%', 'rps<1000';\n"
            "metrics p50 p90 p99 p999 max mean errors rps requests (repeatable)",
            [&out](const std::string& v) { out.fail_if.push_back(parse_threshold(v)); });
  app.add_flag("-q,--quiet", out.quiet, "no live progress line")->disable_flag_override();
}

// What one parse builds: the app, and the commands its options fill in.
// Neither copyable nor movable: the options hold references into it.
struct parser {
  CLI::App app{"Loads an HTTP/1.1 server (or its own) from fibers and reports the latency.",
               "weft-load"};
  CLI::App* merge = nullptr;
  CLI::App* serve = nullptr;
  run_options run;
  std::string url_text;
  merge_options merged;
  serve_options served;

  parser() {
    app.footer(
        "Durations take a unit: us, ms, s, m or h (250us, 1.5s, 2m).\n"
        "Exit codes: 0 ran (thresholds held), 1 bad arguments, URL or file,\n"
        "            2 target unreachable (or its TLS certificate refused),\n"
        "            3 a --fail-if threshold was crossed");
    app.get_formatter()->column_width(26);
    app.require_subcommand(0, 1);
    add_common(app);
    app.add_option("URL", url_text,
                   "http[s]://host[:port]/path (HTTP/1.1, keep-alive; https: TLS,\n"
                   "certificate verified). Omitted: start the built-in HTTP\n"
                   "server on 127.0.0.1 and load that.")
        ->type_name("");
    add_value(
        app, "-c,--connections", "N",
        "virtual users, each a fiber with its own connection (default 64)",
        [this](const std::string& v) { run.connections = parse_count(v, 1, max_connections); });
    add_value(app, "-d,--duration", "D", "10s, 2m, 500ms ... (default 10s)",
              [this](const std::string& v) { run.duration = parse_positive_duration(v); });
    add_value(app, "-r,--rate", "R",
              "open model: R requests/s in total, each request's latency\n"
              "counted from its intended send time; omitted: closed model",
              [this](const std::string& v) { run.rate = parse_rate(v); });
    add_value(app, "-w,--workers", "N", "worker threads (default: all cores)",
              [this](const std::string& v) { run.workers = parse_count(v, 1, max_workers); });
    add_value(app, "-t,--timeout", "D", "per-request timeout (default 5s)",
              [this](const std::string& v) { run.timeout = parse_positive_duration(v); });
    add_value(app, "--stage", "D:N",
              "ramp linearly to N over D: N users, or with -r N requests/s\n"
              "(from -r's); repeatable, the run lasts the sum of the stages",
              [this](const std::string& v) { run.stages.push_back(parse_stage(v)); });
    add_value(app, "--start-at", "T",
              "begin the load at Unix time T (seconds), e.g. to start\n"
              "runs on several machines together; merge their --json",
              [this](const std::string& v) { run.start_at = parse_unix_time(v); });
    add_value(app, "-m,--method", "M", "request method (default GET)",
              [this](const std::string& v) { run.request.method = parse_method(v); });
    add_value(app, "-H,--header", "\"K: V\"", "request header (repeatable)",
              [this](const std::string& v) { run.request.headers.push_back(parse_header(v)); });
    add_value(app, "-b,--body", "TEXT", "request body",
              [this](const std::string& v) { run.request.body = v; });
    add_value(app, "--targets", "FILE",
              "a request mix in vegeta's format: METHOD URL, headers, @body;\n"
              "entries separated by blank lines, taken in turn (replaces\n"
              "URL, -m, -H and -b)",
              [this](const std::string& v) { run.targets_file = non_empty_file_name(v); });
    app.add_flag_callback(
           "-k,--insecure", [this] { run.tls.verify = false; },
           "https: do not verify the server's certificate")
        ->disable_flag_override();
    add_value(app, "--cacert", "FILE", "https: trust the CA certificates of this PEM file",
              [this](const std::string& v) { run.tls.ca_file = non_empty_file_name(v); });
    add_output_options(app, run.output);

    merge = app.add_subcommand("merge", "one report from several runs made at the same time");
    add_common(*merge);
    merge->add_option("FILES", merged.files, "the runs' --json reports ('-': stdin)")
        ->type_name("");
    add_output_options(*merge, merged.output);

    serve = app.add_subcommand("serve",
                               "the built-in server alone (default 127.0.0.1:8080, until Ctrl-C)");
    add_common(*serve);
    add_value(*serve, "--host", "H", "address to listen on (default 127.0.0.1)",
              [this](const std::string& v) { served.host = v; });
    add_value(*serve, "-p,--port", "P", "port to listen on (default 8080; 0: any free one)",
              [this](const std::string& v) {
                served.port = static_cast<std::uint16_t>(parse_count(v, 0, 65535));
              });
    add_value(*serve, "-w,--workers", "N", "worker threads (default: all cores)",
              [this](const std::string& v) { served.workers = parse_count(v, 1, max_workers); });
    add_value(*serve, "-d,--duration", "D", "stop after D (default: at SIGINT or SIGTERM)",
              [this](const std::string& v) { served.duration = parse_positive_duration(v); });
    add_value(*serve, "--tls-cert", "FILE", "serve HTTPS with this PEM certificate (chain)",
              [this](const std::string& v) { served.tls_cert = non_empty_file_name(v); });
    add_value(*serve, "--tls-key", "FILE", "... and this PEM private key",
              [this](const std::string& v) { served.tls_key = non_empty_file_name(v); });
  }
  parser(const parser&) = delete;
  parser& operator=(const parser&) = delete;
};

// CLI11's ArgumentMismatch, worded as the other messages: a value
// missing at the end ("--duration: 1 required D missing") and a value given
// to a flag ("quiet was given a disallowed flag override"). Other messages
// (and these, should a CLI11 release word them otherwise) pass unchanged:
// each names the option already.
std::string reword(std::string message) {
  constexpr std::string_view missing = " missing";
  constexpr std::string_view flag_value = " was given a disallowed flag override";
  const auto colon = message.find(": ");
  if (message.starts_with('-') && colon != std::string::npos &&
      message.find(" required ", colon) != std::string::npos && message.ends_with(missing)) {
    return message.substr(0, colon) + " needs a value";
  }
  if (message.ends_with(flag_value)) {
    return "--" + message.substr(0, message.size() - flag_value.size()) + " takes no value";
  }
  return message;
}

// What CLI11 left over (allow_extras), split: options nobody declares,
// and arguments no positional took.
struct leftovers {
  std::vector<std::string> options;
  std::vector<std::string> arguments;
};

leftovers leftovers_of(const CLI::App& app) {
  leftovers l;
  for (const std::string& arg : app.remaining()) {
    (arg.size() > 1 && arg[0] == '-' ? l.options : l.arguments).push_back(arg);
  }
  return l;
}

void reject_unknown_options(const leftovers& l) {
  if (!l.options.empty()) {
    throw usage_error("unknown option '" + l.options.front() + "' (see weft-load --help)");
  }
}

// `weft-load [options] merge ...`: the run's options and URL before a
// subcommand are mistakes, named here rather than silently dropped.
void reject_run_options(const CLI::App& app, const CLI::App& sub) {
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->count() == 0) continue;
    if (opt->get_positional()) {
      throw usage_error(sub.get_name() + ": unexpected argument '" + opt->results().front() + "'");
    }
    const std::string name = opt->get_name();
    if (sub.get_option_no_throw(name) != nullptr) {
      throw usage_error(name + " must come after '" + sub.get_name() + "'");
    }
    throw usage_error(name + " is not an option of 'weft-load " + sub.get_name() + "'");
  }
}

// --stage: the run lasts the stages' sum, and the closed model's users are
// their peak; -d (and -c without -r) would contradict them.
void apply_stages(const CLI::App& app, run_options& run) {
  if (run.stages.empty()) return;
  if (app.count("--duration") > 0) {
    throw usage_error("--stage: not with --duration (the run lasts the sum of the stages)");
  }
  const ramp r(run.rate, run.stages);
  run.duration = r.length();
  if (run.rate > 0) return;  // open model: the stages are rates, -c the users carrying them
  if (app.count("--connections") > 0) {
    throw usage_error("--stage: not with --connections without -r (the stages give the users)");
  }
  for (const stage& s : run.stages) {
    if (s.target != std::floor(s.target)) {
      std::ostringstream target;
      target << s.target;
      throw usage_error("--stage: " + target.str() +
                        " users is not a whole number (with -r the targets are requests/s)");
    }
  }
  if (r.most_users() == 0) throw usage_error("--stage: no stage has a user");
  if (r.most_users() > max_connections) {
    throw usage_error("--stage: at most " + std::to_string(max_connections) + " users");
  }
  run.connections = r.most_users();
}

}  // namespace

std::string usage_text() {
  const parser p;
  return p.app.help("", CLI::AppFormatMode::All);
}

command parse_command_line(std::span<const std::string> args) {
  // "--" ends the options; what follows goes to the positionals below.
  // (CLI11 2.1 would hand the rest of a subcommand whose positionals already
  // have a value back to the main app, where "-x" is an option again.)
  const auto mark = std::find(args.begin(), args.end(), "--");
  const std::span<const std::string> after(mark == args.end() ? mark : mark + 1, args.end());
  // CLI11 takes the arguments last first.
  std::vector<std::string> reversed(std::make_reverse_iterator(mark), args.rend());

  parser p;
  try {
    p.app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return info_request{usage_text()};
  } catch (const CLI::CallForVersion& e) {
    return info_request{std::string(e.what()) + "\n"};
  } catch (const CLI::ArgumentMismatch& e) {
    throw usage_error(reword(e.what()));
  } catch (const CLI::ParseError& e) {
    throw usage_error(e.what());
  }

  if (p.merge->parsed()) {
    reject_unknown_options(leftovers_of(*p.merge));  // its arguments are all files
    reject_unknown_options(leftovers_of(p.app));
    reject_run_options(p.app, *p.merge);
    p.merged.files.insert(p.merged.files.end(), after.begin(), after.end());
    if (p.merged.files.empty()) {
      throw usage_error("merge: no report files given (weft-load merge A.json B.json ...)");
    }
    return std::move(p.merged);
  }
  if (p.serve->parsed()) {
    leftovers l = leftovers_of(*p.serve);
    reject_unknown_options(l);
    l.arguments.insert(l.arguments.end(), after.begin(), after.end());
    if (!l.arguments.empty()) {
      throw usage_error("serve: unexpected argument '" + l.arguments.front() + "'");
    }
    if (p.served.tls_cert.empty() != p.served.tls_key.empty()) {
      throw usage_error("serve: --tls-cert and --tls-key go together");
    }
    reject_unknown_options(leftovers_of(p.app));
    reject_run_options(p.app, *p.serve);
    return std::move(p.served);
  }

  leftovers l = leftovers_of(p.app);
  reject_unknown_options(l);
  apply_stages(p.app, p.run);
  std::vector<std::string> urls;
  if (p.app.count("URL") > 0) urls.push_back(p.url_text);
  urls.insert(urls.end(), l.arguments.begin(), l.arguments.end());
  urls.insert(urls.end(), after.begin(), after.end());
  if (urls.size() > 1) {
    throw usage_error("more than one URL given ('" + urls[0] + "' and '" + urls[1] + "')");
  }
  if (!p.run.targets_file.empty()) {
    for (const char* name : {"--method", "--header", "--body"}) {
      if (p.app.count(name) > 0) {
        throw usage_error(std::string("--targets: not with ") + name + " (the file gives it)");
      }
    }
    if (!urls.empty()) {
      throw usage_error("--targets: not with a URL ('" + urls.front() + "'; the file gives them)");
    }
  }
  if (!urls.empty()) {
    try {
      p.run.target = parse_url(urls.front());
    } catch (const std::invalid_argument& e) {
      throw usage_error(e.what());
    }
  }
  return std::move(p.run);
}

}  // namespace weft::load
