// weft-load: the HTTP/1.1 client side. The request is built once per run;
// responses are framed by Node's http-parser (Debian's libhttp-parser-dev):
// status line, headers, then a body delimited by Content-Length, chunked
// transfer coding, or the end of the connection. Bodies are skipped, never
// stored, so a virtual user's memory stays one buffer whatever the response
// size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "url.hpp"

namespace weft::load {

/// Whether `c` may appear in an HTTP token: a method, a header name (RFC 9110).
inline bool is_token_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// `text` if it is an HTTP method (a token); throws std::invalid_argument
/// saying it is not, without naming an option or file.
std::string parse_method(std::string_view text);

/// `text` if it is a header line "Name: value" (a token, a colon, no line
/// break: the value is sent as is); throws std::invalid_argument as
/// parse_method.
std::string parse_header(std::string_view text);

/// What each virtual user sends.
struct request_spec {
  std::string method = "GET";
  std::vector<std::string> headers;  ///< "Name: value", sent as given
  std::string body;
};

/// The request bytes for `target`: request line, Host (unless given in
/// headers), User-Agent (likewise), the headers, Content-Length when there
/// is a body or the method usually carries one, then the body.
std::string build_request(const url& target, const request_spec& spec);

/// The response was not valid HTTP/1.x (counted as a "parse" error).
class protocol_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The peer closed the connection before the response was complete
/// (counted as a "closed" error).
class peer_closed : public std::runtime_error {
 public:
  peer_closed() : std::runtime_error("connection closed before the response was complete") {}
};

/// Where the reader gets bytes: read_some semantics (blocks for at least one
/// byte; 0 means the peer closed).
class byte_source {
 public:
  virtual ~byte_source() = default;
  virtual std::size_t read_some(std::span<char> buf) = 0;
};

/// What read() found.
struct response {
  int status = 0;
  bool keep_alive = true;   ///< false: the connection must not be reused
  std::uint64_t bytes = 0;  ///< bytes read for this response (head and body)
};

/// Reads HTTP/1.x responses one at a time from one connection. Keeps the
/// bytes read past the end of a response for the next one; reset() when the
/// connection changes.
class response_reader {
 public:
  /// `buffer_size`: the bytes asked of each read; `max_head`: the largest
  /// status line plus headers accepted (more is a protocol_error).
  explicit response_reader(std::size_t buffer_size = 16 * 1024, std::size_t max_head = 64 * 1024);
  ~response_reader();
  response_reader(const response_reader&) = delete;
  response_reader& operator=(const response_reader&) = delete;

  /// Reads one complete response (1xx interim responses are skipped). For a
  /// HEAD request pass `head = true` (no body follows). Throws
  /// protocol_error, peer_closed, or whatever `in` throws.
  response read(byte_source& in, bool head);

  /// Forgets buffered bytes and parser state (for a new connection).
  void reset() noexcept;

  struct parser_state;  ///< http-parser's state and callbacks (http_client.cpp)

 private:
  /// Feeds the buffered bytes to the parser; true once a final response is
  /// complete (its trailing bytes stay buffered).
  bool parse_buffered(response& r);
  /// Tells the parser the peer closed; true if that completed the response.
  bool parse_end_of_stream(response& r);

  std::vector<char> buf_;
  std::size_t begin_ = 0;  ///< unparsed bytes are buf_[begin_, end_)
  std::size_t end_ = 0;
  std::size_t max_head_;
  std::unique_ptr<parser_state> parser_;
};

}  // namespace weft::load
