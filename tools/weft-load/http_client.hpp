// weft-load: the HTTP/1.1 client side. The request is built once per run;
// responses are read with a small pull parser over a reusable buffer
// (status line, headers, then a body framed by Content-Length, chunked
// transfer coding, or the end of the connection). Bodies are skipped, never
// stored, so a virtual user's memory stays one buffer whatever the response
// size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "url.hpp"

namespace weft::load {

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
  /// `buffer_size` bounds the status line and each header line.
  explicit response_reader(std::size_t buffer_size = 16 * 1024) : buf_(buffer_size) {}

  /// Reads one complete response (1xx interim responses are skipped). For a
  /// HEAD request pass `head = true` (no body follows). Throws
  /// protocol_error, peer_closed, or whatever `in` throws.
  response read(byte_source& in, bool head);

  /// Forgets buffered bytes (for a new connection).
  void reset() noexcept { begin_ = end_ = 0; }

 private:
  /// The next line without its line end; valid until the next read.
  std::string_view line(byte_source& in, response& r);
  /// Reads more into the buffer; false if the peer closed.
  bool fill(byte_source& in, response& r);
  /// Consumes `n` body bytes.
  void skip(byte_source& in, response& r, std::uint64_t n);
  /// Reads and discards until the peer closes (body without a length).
  void skip_to_close(byte_source& in, response& r);

  std::vector<char> buf_;
  std::size_t begin_ = 0;  ///< unread bytes are buf_[begin_, end_)
  std::size_t end_ = 0;
};

}  // namespace weft::load
