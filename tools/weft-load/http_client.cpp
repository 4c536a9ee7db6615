#include "http_client.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>

namespace weft::load {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool icontains(std::string_view hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [](char x, char y) { return lower(x) == lower(y); }) != hay.end();
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

// Headers longer than this many lines are garbage rather than a response
// (real servers send a few dozen).
constexpr int max_header_lines = 256;

}  // namespace

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

bool response_reader::fill(byte_source& in, response& r) {
  (void)r;
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (end_ == buf_.size() && begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  const std::size_t n = in.read_some(std::span(buf_.data() + end_, buf_.size() - end_));
  end_ += n;
  return n > 0;
}

std::string_view response_reader::line(byte_source& in, response& r) {
  for (;;) {
    const char* start = buf_.data() + begin_;
    if (const void* nl = std::memchr(start, '\n', end_ - begin_)) {
      const auto len = static_cast<std::size_t>(static_cast<const char*>(nl) - start);
      r.bytes += len + 1;
      begin_ += len + 1;
      std::string_view l(start, len);
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      return l;
    }
    if (begin_ == 0 && end_ == buf_.size()) throw protocol_error("header line too long");
    if (!fill(in, r)) throw peer_closed();
  }
}

void response_reader::skip(byte_source& in, response& r, std::uint64_t n) {
  while (n > 0) {
    if (begin_ == end_ && !fill(in, r)) throw peer_closed();
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n, end_ - begin_));
    begin_ += take;
    n -= take;
    r.bytes += take;
  }
}

void response_reader::skip_to_close(byte_source& in, response& r) {
  r.bytes += end_ - begin_;
  begin_ = end_ = 0;
  while (fill(in, r)) {
    r.bytes += end_;
    begin_ = end_ = 0;
  }
}

response response_reader::read(byte_source& in, bool head) {
  response r;
  for (;;) {  // once per response; 1xx interim responses go round again
    // Status line: HTTP/1.x SP 3DIGIT [SP reason]
    const std::string_view status_line = line(in, r);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
        (status_line[7] != '0' && status_line[7] != '1') || status_line[8] != ' ' ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
      throw protocol_error("bad status line");
    }
    int status = 0;
    const auto [end, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
    if (ec != std::errc() || end != status_line.data() + 12 || status < 100 || status > 599) {
      throw protocol_error("bad status code");
    }
    r.status = status;
    r.keep_alive = status_line[7] == '1';  // HTTP/1.0 closes unless it says keep-alive

    bool chunked = false;
    bool has_length = false;
    std::uint64_t length = 0;
    for (int lines = 0;; ++lines) {
      const std::string_view h = line(in, r);
      if (h.empty()) break;
      if (lines >= max_header_lines) throw protocol_error("too many header lines");
      const auto colon = h.find(':');
      if (colon == std::string_view::npos || colon == 0) throw protocol_error("bad header line");
      const std::string_view name = h.substr(0, colon);
      const std::string_view value = trim(h.substr(colon + 1));
      if (iequals(name, "content-length")) {
        std::uint64_t n = 0;
        const auto [e, err] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (value.empty() || err != std::errc() || e != value.data() + value.size() ||
            (has_length && n != length)) {
          throw protocol_error("bad Content-Length");
        }
        has_length = true;
        length = n;
      } else if (iequals(name, "transfer-encoding")) {
        chunked = icontains(value, "chunked");
      } else if (iequals(name, "connection")) {
        if (icontains(value, "close")) r.keep_alive = false;
        if (icontains(value, "keep-alive")) r.keep_alive = true;
      }
    }
    if (status < 200 && status != 101) continue;  // 100 Continue, 103 Early Hints, ...
    if (status == 101) r.keep_alive = false;      // switched protocols: not HTTP any more
    if (head || status == 101 || status == 204 || status == 304) return r;

    if (chunked) {  // chunk-size [; ext] CRLF data CRLF ... 0 CRLF trailers CRLF
      for (;;) {
        const std::string_view size_line = line(in, r);
        const std::string_view digits = trim(size_line.substr(0, size_line.find(';')));
        std::uint64_t size = 0;
        const auto [e, err] =
            std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
        if (digits.empty() || err != std::errc() || e != digits.data() + digits.size()) {
          throw protocol_error("bad chunk size");
        }
        if (size == 0) {
          while (!line(in, r).empty()) {  // trailers
          }
          return r;
        }
        skip(in, r, size);
        if (!line(in, r).empty()) throw protocol_error("chunk not followed by CRLF");
      }
    }
    if (has_length) {
      skip(in, r, length);
      return r;
    }
    skip_to_close(in, r);  // no framing: the body ends with the connection
    r.keep_alive = false;
    return r;
  }
}

}  // namespace weft::load
