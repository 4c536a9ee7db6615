// weft-load: the target URL, http://host[:port]/path or https://...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weft::load {

/// A parsed http or https URL (HTTP/1.1, over TLS for https).
struct url {
  std::string host;          ///< name or address; IPv6 without brackets
  std::uint16_t port = 80;   ///< 80 (443 for https) unless given
  std::string target = "/";  ///< path and query, as sent in the request line
  bool tls = false;          ///< https

  /// The Host header value: host, with brackets for IPv6, and :port unless
  /// the scheme's default.
  [[nodiscard]] std::string authority() const;
  /// The URL written out again (http[s]://authority/target).
  [[nodiscard]] std::string str() const;
};

/// Whether `a` and `b` are the same origin (scheme, host and port): one
/// connection serves both.
inline bool same_origin(const url& a, const url& b) noexcept {
  return a.tls == b.tls && a.host == b.host && a.port == b.port;
}

/// Parses "http[s]://host[:port][/path][?query]" ("http://" may be left
/// out; a fragment is dropped). Throws std::invalid_argument saying what is
/// wrong: another scheme, an empty host, a bad port, user info, spaces or
/// control characters.
url parse_url(std::string_view text);

}  // namespace weft::load
