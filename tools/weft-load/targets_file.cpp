// weft-load: the targets file (targets_file.hpp), read line by line: an
// entry opens with its request line after a blank line (or at the start),
// takes header lines, and closes with a body line or the next blank line.
#include "targets_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <utility>

namespace weft::load {

namespace {

// Reads the whole of `path`; nothing if it cannot be opened or is a
// directory (which opens, and reads as empty, on Linux), errno says why.
std::optional<std::string> slurp(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    errno = EISDIR;
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class targets_parser {
 public:
  targets_parser(const std::string& name, std::filesystem::path dir)
      : name_(name), dir_(std::move(dir)) {}

  void line(std::string_view text, std::size_t number) {
    line_ = number;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (!text.empty() && text.front() == '#') return;
    if (text.empty()) {
      in_entry_ = false;
      return;
    }
    if (!in_entry_) {
      open_entry(text);
    } else if (has_body_) {
      // Built with append: GCC 12 warns falsely (-Wrestrict) on "'" + ... here.
      std::string what(1, '\'');
      what.append(text).append("' after the body line (separate entries with a blank line)");
      fail(what);
    } else if (text.front() == '@') {
      read_body(text.substr(1));
    } else {
      add_header(text);
    }
  }

  std::vector<target_entry> finish() {
    if (entries_.empty()) throw targets_error(name_ + ": no request in it (e.g. GET http://host/)");
    return std::move(entries_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw targets_error(name_ + ":" + std::to_string(line_) + ": " + what);
  }

  void open_entry(std::string_view text) {
    const auto space = text.find(' ');
    if (space == std::string_view::npos) {
      fail("'" + std::string(text) + "' is not a request line (METHOD URL)");
    }
    target_entry e;
    e.line = line_;
    try {
      e.request.method = parse_method(text.substr(0, space));
      std::string_view rest = text.substr(space + 1);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      e.target = parse_url(rest);
    } catch (const std::invalid_argument& err) {
      fail(err.what());
    }
    entries_.push_back(std::move(e));
    in_entry_ = true;
    has_body_ = false;
  }

  void add_header(std::string_view text) {
    try {
      entries_.back().request.headers.push_back(parse_header(text));
    } catch (const std::invalid_argument& err) {
      fail(err.what());
    }
  }

  void read_body(std::string_view file) {
    if (file.empty()) fail("'@' needs a file name (@body.json)");
    const std::filesystem::path path = dir_ / std::filesystem::path(file);  // absolute stays
    auto body = slurp(path);
    if (!body) {
      fail("cannot read the body file '" + path.string() + "': " + std::strerror(errno));
    }
    entries_.back().request.body = std::move(*body);
    has_body_ = true;
  }

  const std::string& name_;
  std::filesystem::path dir_;
  std::vector<target_entry> entries_;
  std::size_t line_ = 0;
  bool in_entry_ = false;  ///< the last line belongs to entries_.back()
  bool has_body_ = false;  ///< entries_.back() has its body line
};

}  // namespace

std::vector<target_entry> parse_targets(std::string_view text, const std::string& name,
                                        const std::filesystem::path& dir) {
  targets_parser parser(name, dir);
  std::size_t number = 1;
  for (std::size_t begin = 0; begin <= text.size(); ++number) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    parser.line(text.substr(begin, end - begin), number);
    begin = end + 1;
  }
  return parser.finish();
}

std::vector<target_entry> read_targets_file(const std::string& path) {
  const auto text = slurp(path);
  if (!text) throw targets_error("cannot read '" + path + "': " + std::strerror(errno));
  return parse_targets(*text, path, std::filesystem::path(path).parent_path());
}

}  // namespace weft::load
