// weft-load: request mixes, `--targets FILE`, in vegeta's HTTP format:
//
//   # a comment
//   GET https://shop.example/catalog
//   Accept: application/json
//
//   POST https://shop.example/cart
//   Content-Type: application/json
//   @bodies/add.json
//
// Entries are separated by blank lines; each is `METHOD URL`, then any
// `Header: value` lines, then at most one `@FILE` line whose contents are
// the body (FILE relative to the targets file's directory, or absolute).
// Lines starting with '#' are comments; CRLF line ends are accepted. The
// users take the entries in turn, all together: listing an entry three
// times gives it three times the requests (see load.hpp).
#pragma once

#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "http_client.hpp"
#include "url.hpp"

namespace weft::load {

/// One request of a mix.
struct target_entry {
  url target;
  request_spec request;  ///< method, headers, body
  std::size_t line = 0;  ///< where the entry starts (1-based), for messages
};

/// A targets file that cannot be used; the message starts with the file's
/// name and, for a bad entry, the line ("mix.txt:7: 'FETCH' is not an HTTP
/// method").
class targets_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Parses `text` as a targets file called `name` (for messages) whose
/// relative body files are in `dir`. Throws targets_error for a bad entry,
/// a body file that cannot be read, or no entry at all.
std::vector<target_entry> parse_targets(std::string_view text, const std::string& name,
                                        const std::filesystem::path& dir);

/// Reads and parses the targets file `path`; throws targets_error if it
/// cannot be read, or as parse_targets.
std::vector<target_entry> read_targets_file(const std::string& path);

}  // namespace weft::load
