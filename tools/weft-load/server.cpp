#include "server.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "http_client.hpp"
#include "transport.hpp"

namespace weft::load {

namespace {

const std::string ok_response =
    "HTTP/1.1 200 OK\r\nServer: weft-load\r\nContent-Type: text/plain\r\n"
    "Content-Length: " +
    std::to_string(http_server::body.size()) + "\r\n\r\n" + std::string(http_server::body);

const std::string too_large_response =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: "
    "close\r\n\r\n";
const std::string bad_request_response =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const std::string unsupported_response =
    "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Finds `name:` at the start of a line of `head` (case-insensitive) and
// returns its value, trimmed; empty if absent.
std::string_view header_value(std::string_view head, std::string_view name) {
  std::size_t pos = head.find('\n');
  while (pos != std::string_view::npos) {
    const std::string_view rest = head.substr(pos + 1);
    const std::size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        std::equal(name.begin(), name.end(), line.begin(),
                   [](char a, char b) { return lower(a) == lower(b); })) {
      line.remove_prefix(name.size() + 1);
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
      return line;
    }
    pos = eol == std::string_view::npos ? eol : pos + 1 + eol;
  }
  return {};
}

// Whether `head` (the request line and header lines, each ending in CRLF)
// is an HTTP/1.x request a server can answer: "METHOD SP target SP
// HTTP/1.x", then "name: value" lines, no control characters but tabs.
bool well_formed(std::string_view head) {
  std::size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  if (!std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(sp1), is_token_char)) {
    return false;
  }
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (std::any_of(target.begin(), target.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; })) {
    return false;
  }
  const std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return false;
  while (eol + 2 < head.size()) {
    const std::size_t next = head.find("\r\n", eol + 2);
    const std::string_view field = head.substr(eol + 2, next - eol - 2);
    const std::size_t colon = field.find(':');
    if (colon == 0 || colon == std::string_view::npos ||
        !std::all_of(field.begin(), field.begin() + static_cast<std::ptrdiff_t>(colon),
                     is_token_char) ||
        std::any_of(field.begin(), field.end(), [](char c) {
          return (static_cast<unsigned char>(c) < ' ' && c != '\t') || c == 0x7f;
        })) {
      return false;
    }
    eol = next;
  }
  return true;
}

bool contains_ci(std::string_view hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return lower(a) == lower(b); }) != hay.end();
}

// Requests with a head larger than this are refused (431), as most servers do.
constexpr std::size_t max_head = 64 * 1024;
// Request bodies beyond this are refused (501): the server only has to take
// what a load test sends.
constexpr std::size_t max_body = 1024 * 1024;
// A TLS client that has not finished its handshake by then is dropped: a
// guess, generous for any client that means to talk.
constexpr auto handshake_timeout = std::chrono::seconds(10);
constexpr auto no_deadline = transport::clock::time_point::max();

}  // namespace

struct http_server::connection {
  transport conn;
  connection* prev = nullptr;
  connection* next = nullptr;
};

http_server::http_server(weft::runtime& rt, std::string_view host, std::uint16_t port,
                         const tls_context* tls)
    : listener_(net::tcp_listener::bind(host, port)), port_(listener_.local_port()), tls_(tls) {
  fibers_.add(1);
  rt.spawn(weft::spawn_options{.name = "weft-load server"}, [this] { accept_loop(); }).detach();
}

http_server::~http_server() { stop(); }

void http_server::stop() {
  if (stopped_.exchange(true)) return;
  {
    std::lock_guard guard(lock_);
    stopping_ = true;
    for (connection* c = open_; c; c = c->next) c->conn.close();  // wakes its fiber
  }
  listener_.close();  // wakes the acceptor
  fibers_.wait();
}

bool http_server::enter(connection& c) {
  std::lock_guard guard(lock_);
  if (stopping_) return false;
  c.next = open_;
  if (open_) open_->prev = &c;
  open_ = &c;
  return true;
}

void http_server::leave(connection& c) {
  std::lock_guard guard(lock_);
  if (c.prev) c.prev->next = c.next;
  if (c.next) c.next->prev = c.prev;
  if (open_ == &c) open_ = c.next;
}

void http_server::accept_loop() {
  for (;;) {
    net::tcp_stream s;
    try {
      s = listener_.accept();
    } catch (const std::system_error&) {
      break;  // closed by stop()
    }
    fibers_.add(1);
    weft::spawn([this, st = std::move(s)]() mutable {
      connection c;
      c.conn.open(std::move(st), tls_);
      if (enter(c)) {
        try {
          c.conn.handshake(transport::clock::now() + handshake_timeout);
          serve(c);
        } catch (const std::system_error&) {
          // The client reset the connection, or stop() closed it.
        } catch (const tls_error&) {
          // The client's handshake failed (it did not trust us, say).
        }
        leave(c);
      }
      c.conn.close();
      fibers_.done();
    }).detach();
  }
  fibers_.done();
}

void http_server::serve(connection& c) {
  std::vector<char> buf(16 * 1024);
  std::size_t have = 0;  // bytes in buf
  std::string out;       // responses to send (all pipelined requests at once)
  for (;;) {
    const std::size_t n = c.conn.read_some(
        std::as_writable_bytes(std::span(buf.data() + have, buf.size() - have)), no_deadline);
    if (n == 0) return;  // the client closed
    have += n;
    std::size_t begin = 0;
    bool close_after = false;
    for (;;) {  // every complete request in the buffer
      const std::string_view data(buf.data() + begin, have - begin);
      const std::size_t head_end = data.find("\r\n\r\n");
      if (head_end == std::string_view::npos) break;
      const std::string_view head = data.substr(0, head_end + 2);
      if (!well_formed(head)) {
        out += bad_request_response;  // and close: what follows cannot be framed
        close_after = true;
        break;
      }
      std::size_t length = 0;
      const std::string_view cl = header_value(head, "content-length");
      for (const char ch : cl) {
        if (ch < '0' || ch > '9' || length > max_body) {
          length = SIZE_MAX;
          break;
        }
        length = length * 10 + static_cast<std::size_t>(ch - '0');
      }
      if (length > max_body) length = SIZE_MAX;
      if (length == SIZE_MAX || contains_ci(header_value(head, "transfer-encoding"), "chunked")) {
        out += unsupported_response;  // chunked or huge request bodies: not for this server
        close_after = true;
        break;
      }
      const std::size_t total = head_end + 4 + length;
      if (data.size() < total) {
        if (total > buf.size()) buf.resize(total);  // a body larger than the buffer
        break;
      }
      out += ok_response;
      requests_.fetch_add(1, std::memory_order_relaxed);
      begin += total;
      if (contains_ci(header_value(head, "connection"), "close") ||
          head.find(" HTTP/1.0\r\n") != std::string_view::npos) {
        close_after = true;
        break;
      }
    }
    if (begin > 0) {
      std::memmove(buf.data(), buf.data() + begin, have - begin);
      have -= begin;
    }
    if (!close_after && have == buf.size()) {
      if (have >= max_head) {
        out += too_large_response;
        close_after = true;
      } else {
        buf.resize(std::min(buf.size() * 2, max_head + 4));
      }
    }
    if (!out.empty()) {
      c.conn.write_all(std::as_bytes(std::span(out)), no_deadline);
      out.clear();
    }
    if (close_after) return;
  }
}

}  // namespace weft::load
