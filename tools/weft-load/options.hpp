// weft-load: the command line.
//
//   weft-load [URL] [options]                 load URL (or the built-in server)
//   weft-load merge A.json B.json ... [opts]  one report from several runs
//   weft-load serve [--port P] [-w N]         the built-in server alone
//                   [--tls-cert F --tls-key F]   ... over HTTPS
//
// options.cpp parses it with CLI11, which stays out of this header: callers
// get plain structs, usage_error for any mistake, and info_request for
// -h/--help and --version.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "http_client.hpp"
#include "stages.hpp"
#include "threshold.hpp"
#include "tls.hpp"
#include "url.hpp"

namespace weft::load {

/// Bad command line: exit code 1, with this message.
class usage_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Options shared by runs and merges: what to do with the report.
struct output_options {
  std::optional<std::string> json_path;  ///< --json FILE ('-': stdout)
  std::optional<std::string> html_path;  ///< --html FILE (html_report.hpp)
  std::vector<threshold> fail_if;        ///< --fail-if
  bool quiet = false;                    ///< --quiet
};

/// `weft-load [URL] [options]`.
struct run_options {
  std::optional<url> target;  ///< nothing: the built-in server
  unsigned connections = 64;
  std::chrono::nanoseconds duration = std::chrono::seconds(10);
  double rate = 0;       ///< 0: closed model
  unsigned workers = 0;  ///< 0: all cores
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);
  request_spec request;
  /// --targets: a request mix (targets_file.hpp) read by the run; replaces
  /// the URL, -m, -H and -b.
  std::string targets_file;
  tls_client_options tls;  ///< -k/--insecure, --cacert (for https URLs)
  output_options output;
  /// --stage, in order: a ramp of users (closed model) or of the rate
  /// (open model, from `rate`); `duration` is then their sum and, in the
  /// closed model, `connections` their peak.
  std::vector<stage> stages;
  /// --start-at: when the load begins (several machines start together);
  /// nothing: at once.
  std::optional<std::chrono::system_clock::time_point> start_at;
};

/// `weft-load merge FILE... [--json FILE] [--html FILE] [--fail-if COND] [--quiet]`.
struct merge_options {
  std::vector<std::string> files;
  output_options output;
};

/// `weft-load serve [--host H] [--port P] [-w N] [-d D] [--tls-cert F --tls-key F]`.
struct serve_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned workers = 0;
  std::optional<std::chrono::nanoseconds> duration;  ///< nothing: until SIGINT/SIGTERM
  /// --tls-cert and --tls-key (given together, or neither): serve HTTPS.
  std::string tls_cert;
  std::string tls_key;
};

/// -h / --help, or --version: print `text`, exit 0.
struct info_request {
  std::string text;
};

using command = std::variant<run_options, merge_options, serve_options, info_request>;

/// Parses the arguments after the program name; those after "--" are never
/// options. -h/--help or --version, before any value is checked, gives an
/// info_request (unless it is an option's value: `-b --help`). Throws
/// usage_error naming the offending option or argument. Re-entrant: no
/// state outlives the call.
command parse_command_line(std::span<const std::string> args);

/// The --help text: every option of every command, and the exit codes.
std::string usage_text();

}  // namespace weft::load
