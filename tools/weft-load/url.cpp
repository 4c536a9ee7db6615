#include "url.hpp"

#include <charconv>
#include <stdexcept>

namespace weft::load {

namespace {

[[noreturn]] void bad_url(std::string_view text, const std::string& why) {
  throw std::invalid_argument("bad URL '" + std::string(text) + "': " + why);
}

bool host_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

}  // namespace

std::string url::authority() const {
  // Built with append: GCC 12 warns falsely (-Wrestrict) on "[" + host + "]".
  std::string out;
  const bool ipv6 = host.find(':') != std::string::npos;
  if (ipv6) out += '[';
  out += host;
  if (ipv6) out += ']';
  if (port != (tls ? 443 : 80)) {
    out += ':';
    out += std::to_string(port);
  }
  return out;
}

std::string url::str() const { return (tls ? "https://" : "http://") + authority() + target; }

url parse_url(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      bad_url(text, "spaces and control characters are not allowed");
    }
  }
  std::string_view rest = text;
  bool tls = false;
  if (const auto scheme_end = rest.find("://"); scheme_end != std::string_view::npos) {
    std::string scheme(rest.substr(0, scheme_end));
    for (char& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (scheme != "http" && scheme != "https") {
      bad_url(text, "unsupported scheme '" + scheme + "' (use http:// or https://)");
    }
    tls = scheme == "https";
    rest.remove_prefix(scheme_end + 3);
  }
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);

  url out;
  out.tls = tls;
  out.port = tls ? 443 : 80;
  const auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  if (path_start != std::string_view::npos) {
    const std::string_view target = rest.substr(path_start);
    if (target.front() == '?')
      out.target = "/";  // "?q" alone means "/?q"
    else
      out.target.clear();
    out.target += target;
  }
  if (authority.find('@') != std::string_view::npos) {
    bad_url(text, "user info (user@host) is not supported");
  }

  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) bad_url(text, "unterminated '[' in the IPv6 address");
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad_url(text, "unexpected text after ']'");
      port_text = after.substr(1);
      has_port = true;
    }
    if (out.host.empty()) bad_url(text, "empty host");
    for (const char c : out.host) {
      const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') bad_url(text, "bad IPv6 address");
    }
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
    if (out.host.empty()) bad_url(text, "empty host");
    for (const char c : out.host) {
      if (!host_char_ok(c)) bad_url(text, std::string("bad character '") + c + "' in the host");
    }
  }
  if (has_port) {
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
        port == 0 || port > 65535) {
      bad_url(text, "bad port '" + std::string(port_text) + "' (1..65535)");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

}  // namespace weft::load
