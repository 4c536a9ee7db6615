#include "http_client.hpp"

#include <http_parser.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>

namespace weft::load {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view header_name(std::string_view header) {
  return trim(header.substr(0, header.find(':')));
}

bool has_header(const std::vector<std::string>& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const std::string& h) { return iequals(header_name(h), name); });
}

}  // namespace

struct response_reader::parser_state {
  http_parser parser{};
  http_parser_settings settings{};
  bool head = false;             ///< the request was HEAD: no body follows
  bool headers_done = false;     ///< the current message's head is in
  bool complete = false;         ///< a message (interim or final) just completed
  bool bad_status = false;       ///< the status code was outside 100..599
  std::uint64_t head_start = 0;  ///< response::bytes when the current message began
  int status = 0;
  bool keep_alive = true;

  parser_state() {
    http_parser_settings_init(&settings);
    settings.on_headers_complete = &on_headers_complete;
    settings.on_message_complete = &on_message_complete;
  }

  static parser_state& of(http_parser* p) { return *static_cast<parser_state*>(p->data); }

  // Returning 1 tells http-parser that no body follows (HEAD); another
  // non-zero value stops it with HPE_CB_headers_complete.
  static int on_headers_complete(http_parser* p) {
    parser_state& st = of(p);
    st.headers_done = true;
    st.status = p->status_code;
    if (st.status < 100 || st.status > 599) {
      st.bad_status = true;
      return -1;
    }
    return st.head ? 1 : 0;
  }

  // Pauses the parser so that http_parser_execute returns right after the
  // message: bytes past it belong to the next response.
  static int on_message_complete(http_parser* p) {
    parser_state& st = of(p);
    st.complete = true;
    st.keep_alive = http_should_keep_alive(p) != 0 && p->upgrade == 0;
    http_parser_pause(p, 1);
    return 0;
  }
};

response_reader::response_reader(std::size_t buffer_size, std::size_t max_head)
    : buf_(buffer_size), max_head_(max_head), parser_(std::make_unique<parser_state>()) {
  reset();
}

response_reader::~response_reader() = default;

void response_reader::reset() noexcept {
  begin_ = end_ = 0;
  parser_state& st = *parser_;
  http_parser_init(&st.parser, HTTP_RESPONSE);
  st.parser.data = &st;
  st.headers_done = st.complete = st.bad_status = false;
}

std::string build_request(const url& target, const request_spec& spec) {
  std::string out = spec.method + " " + target.target + " HTTP/1.1\r\n";
  if (!has_header(spec.headers, "host")) out += "Host: " + target.authority() + "\r\n";
  if (!has_header(spec.headers, "user-agent")) out += "User-Agent: weft-load\r\n";
  for (const std::string& h : spec.headers) out += h + "\r\n";
  const bool body_method = spec.method == "POST" || spec.method == "PUT" || spec.method == "PATCH";
  if ((!spec.body.empty() || body_method) && !has_header(spec.headers, "content-length")) {
    out += "Content-Length: " + std::to_string(spec.body.size()) + "\r\n";
  }
  out += "\r\n";
  out += spec.body;
  return out;
}

std::string parse_method(std::string_view text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), is_token_char)) {
    throw std::invalid_argument("'" + std::string(text) + "' is not an HTTP method");
  }
  return std::string(text);
}

std::string parse_header(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 ||
      !std::all_of(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(colon),
                   is_token_char) ||
      text.find_first_of("\r\n") != std::string_view::npos) {
    throw std::invalid_argument("'" + std::string(text) +
                                "' is not a header (use \"Name: value\")");
  }
  return std::string(text);
}

bool response_reader::parse_buffered(response& r) {
  parser_state& st = *parser_;
  while (begin_ < end_) {
    st.complete = false;
    const std::size_t n =
        http_parser_execute(&st.parser, &st.settings, buf_.data() + begin_, end_ - begin_);
    begin_ += n;
    r.bytes += n;
    const auto err = HTTP_PARSER_ERRNO(&st.parser);
    if (err == HPE_PAUSED) {
      http_parser_pause(&st.parser, 0);
    } else if (err != HPE_OK) {
      throw protocol_error(st.bad_status ? "bad status code" : http_errno_description(err));
    }
    if (!st.complete) {
      if (!st.headers_done && r.bytes - st.head_start > max_head_) {
        throw protocol_error("response head too large");
      }
      continue;
    }
    st.headers_done = false;
    st.head_start = r.bytes;
    // 100 Continue, 103 Early Hints, ...: interim, the final response follows.
    if (st.status >= 200 || st.status == 101) {
      r.status = st.status;
      r.keep_alive = st.keep_alive;
      return true;
    }
  }
  begin_ = end_ = 0;
  return false;
}

bool response_reader::parse_end_of_stream(response& r) {
  parser_state& st = *parser_;
  st.complete = false;
  http_parser_execute(&st.parser, &st.settings, nullptr, 0);  // completes a close-delimited body
  if (!st.complete || st.status < 200) return false;
  r.status = st.status;
  r.keep_alive = false;
  return true;
}

response response_reader::read(byte_source& in, bool head) {
  response r;
  parser_->head = head;
  parser_->head_start = 0;
  for (;;) {
    if (parse_buffered(r)) return r;
    const std::size_t n = in.read_some(std::span(buf_));  // parse_buffered emptied the buffer
    if (n == 0) {
      if (parse_end_of_stream(r)) return r;
      throw peer_closed();
    }
    end_ = n;
  }
}

}  // namespace weft::load
