#include "options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <string_view>

#include "duration.hpp"

namespace weft::load {

namespace {

// One option of one command. `apply` gets the value ("" for a flag).
struct option_spec {
  char short_name;  ///< 0: none
  std::string_view long_name;
  bool takes_value;
  std::function<void(std::string_view)> apply;
};

std::string display(const option_spec& o) {
  return o.long_name.empty() ? std::string("-") + o.short_name : "--" + std::string(o.long_name);
}

[[noreturn]] void fail(const std::string& what) { throw usage_error(what); }

// Walks `args`, calling each option's apply and `positional` for the rest.
// Accepts --name value, --name=value, -n value and -nvalue; "--" ends options.
void parse_args(std::span<const std::string> args, const std::vector<option_spec>& specs,
                const std::function<void(const std::string&)>& positional) {
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      positional(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    const option_spec* spec = nullptr;
    std::optional<std::string_view> attached;
    if (arg[1] == '-') {
      const std::string_view body = std::string_view(arg).substr(2);
      const auto eq = body.find('=');
      const std::string_view name = body.substr(0, eq);
      if (eq != std::string_view::npos) attached = body.substr(eq + 1);
      for (const option_spec& s : specs) {
        if (s.long_name == name) spec = &s;
      }
    } else {
      for (const option_spec& s : specs) {
        if (s.short_name == arg[1]) spec = &s;
      }
      if (arg.size() > 2) attached = std::string_view(arg).substr(2);
    }
    if (!spec) fail("unknown option '" + arg + "' (see weft-load --help)");
    if (!spec->takes_value) {
      if (attached) fail(display(*spec) + " takes no value");
      spec->apply("");
      continue;
    }
    std::string_view value;
    if (attached) {
      value = *attached;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      fail(display(*spec) + " needs a value");
    }
    try {
      spec->apply(value);
    } catch (const usage_error&) {
      throw;
    } catch (const std::invalid_argument& e) {
      fail(display(*spec) + ": " + e.what());
    }
  }
}

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

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The options every command that reports has.
void add_output_options(std::vector<option_spec>& specs, output_options& out) {
  specs.push_back({0, "json", true, [&out](std::string_view v) {
                     if (v.empty()) throw std::invalid_argument("needs a file name ('-': stdout)");
                     out.json_path = std::string(v);
                   }});
  specs.push_back({0, "fail-if", true,
                   [&out](std::string_view v) { out.fail_if.push_back(parse_threshold(v)); }});
  specs.push_back({'q', "quiet", false, [&out](std::string_view) { out.quiet = true; }});
}

// The most virtual users one process takes: each is a fiber with a 64 KiB
// stack and a socket; a million would exceed the default descriptor limit
// long before, but the bound keeps the arithmetic far from overflow.
constexpr unsigned max_connections = 1'000'000;
// Keeps options::workers within what the runtime accepts.
constexpr unsigned max_workers = 1024;

run_options parse_run(std::span<const std::string> args) {
  run_options o;
  std::vector<option_spec> specs{
      {'c', "connections", true,
       [&](std::string_view v) { o.connections = parse_count(v, 1, max_connections); }},
      {'d', "duration", true, [&](std::string_view v) { o.duration = parse_positive_duration(v); }},
      {'r', "rate", true,
       [&](std::string_view v) {
         double r = 0;
         const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), r);
         if (v.empty() || ec != std::errc() || end != v.data() + v.size() || !std::isfinite(r) ||
             r <= 0 || r > 1e9) {
           throw std::invalid_argument("'" + std::string(v) +
                                       "' is not a rate in requests/s (a number > 0)");
         }
         o.rate = r;
       }},
      {'w', "workers", true,
       [&](std::string_view v) { o.workers = parse_count(v, 1, max_workers); }},
      {'t', "timeout", true, [&](std::string_view v) { o.timeout = parse_positive_duration(v); }},
      {'m', "method", true,
       [&](std::string_view v) {
         if (v.empty() || !std::all_of(v.begin(), v.end(), is_token_char)) {
           throw std::invalid_argument("'" + std::string(v) + "' is not an HTTP method");
         }
         o.request.method = std::string(v);
       }},
      {'H', "header", true,
       [&](std::string_view v) {
         const auto colon = v.find(':');
         if (colon == std::string_view::npos || colon == 0 ||
             !std::all_of(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(colon),
                          is_token_char) ||
             v.find_first_of("\r\n") != std::string_view::npos) {
           throw std::invalid_argument("'" + std::string(v) +
                                       "' is not a header (use \"Name: value\")");
         }
         o.request.headers.emplace_back(v);
       }},
      {'b', "body", true, [&](std::string_view v) { o.request.body = std::string(v); }},
  };
  add_output_options(specs, o.output);
  parse_args(args, specs, [&](const std::string& arg) {
    if (o.target) fail("more than one URL given ('" + o.target->str() + "' and '" + arg + "')");
    try {
      o.target = parse_url(arg);
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
  });
  return o;
}

merge_options parse_merge(std::span<const std::string> args) {
  merge_options o;
  std::vector<option_spec> specs;
  add_output_options(specs, o.output);
  parse_args(args, specs, [&](const std::string& arg) { o.files.push_back(arg); });
  if (o.files.empty()) fail("merge: no report files given (weft-load merge A.json B.json ...)");
  return o;
}

serve_options parse_serve(std::span<const std::string> args) {
  serve_options o;
  std::vector<option_spec> specs{
      {0, "host", true, [&](std::string_view v) { o.host = std::string(v); }},
      {'p', "port", true,
       [&](std::string_view v) { o.port = static_cast<std::uint16_t>(parse_count(v, 0, 65535)); }},
      {'w', "workers", true,
       [&](std::string_view v) { o.workers = parse_count(v, 1, max_workers); }},
      {'d', "duration", true, [&](std::string_view v) { o.duration = parse_positive_duration(v); }},
  };
  parse_args(args, specs,
             [&](const std::string& arg) { fail("serve: unexpected argument '" + arg + "'"); });
  return o;
}

}  // namespace

std::string usage_text() {
  return R"(usage: weft-load [URL] [options]
  URL                    http://host[:port]/path (HTTP/1.1, keep-alive). Omitted: start
                         the built-in HTTP server on 127.0.0.1 and load that.
  -c, --connections N    virtual users, each a fiber with its own connection (default 64)
  -d, --duration D       10s, 2m, 500ms ... (default 10s)
  -r, --rate R           open model: R requests/s in total, each request's latency
                         counted from its intended send time; omitted: closed model
  -w, --workers N        worker threads (default: all cores)
  -t, --timeout D        per-request timeout (default 5s)
  -m, --method M         request method (default GET)
  -H, --header "K: V"    request header (repeatable)
  -b, --body TEXT        request body
      --json FILE        the report as JSON ('-': stdout; the table then goes to stderr)
      --fail-if COND     exit 3 if COND holds, e.g. 'p99>50ms', 'errors>1%', 'rps<1000';
                         metrics p50 p90 p99 p999 max mean errors rps requests (repeatable)
  -q, --quiet            no live progress line
  -h, --help             this text
usage: weft-load merge A.json B.json ... [--json FILE] [--fail-if COND] [--quiet]
                         one report from several runs made at the same time
usage: weft-load serve [--host H] [-p, --port P] [-w N] [-d D]
                         the built-in server alone (default 127.0.0.1:8080, until Ctrl-C)
exit codes: 0 ran (thresholds held), 1 bad arguments or URL, 2 target unreachable,
            3 a --fail-if threshold was crossed
)";
}

command parse_command_line(std::span<const std::string> args) {
  for (const std::string& a : args) {
    if (a == "--") break;
    if (a == "-h" || a == "--help") return info_request{usage_text()};
    if (a == "--version") return info_request{"weft-load (weft 0.1.0)\n"};
  }
  if (!args.empty() && args.front() == "merge") return parse_merge(args.subspan(1));
  if (!args.empty() && args.front() == "serve") return parse_serve(args.subspan(1));
  return parse_run(args);
}

}  // namespace weft::load
