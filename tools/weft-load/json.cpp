#include "json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace weft::load::json {

// ---- value -------------------------------------------------------------------------------------

bool value::as_bool() const {
  if (kind_ != kind::boolean) throw error("expected true or false");
  return bool_;
}

double value::as_double() const {
  if (kind_ != kind::number) throw error("expected a number");
  return d_;
}

std::uint64_t value::as_uint() const {
  if (kind_ != kind::number || !uint_) throw error("expected a non-negative integer");
  return u_;
}

const std::string& value::as_string() const {
  if (kind_ != kind::string) throw error("expected a string");
  return str_;
}

const value::array_t& value::as_array() const {
  if (kind_ != kind::array) throw error("expected an array");
  return array_;
}

const value::object_t& value::as_object() const {
  if (kind_ != kind::object) throw error("expected an object");
  return object_;
}

value& value::push(value v) {
  if (kind_ != kind::array) throw error("push on a non-array");
  array_.push_back(std::move(v));
  return array_.back();
}

value& value::set(std::string key, value v) {
  if (kind_ != kind::object) throw error("set on a non-object");
  object_.emplace_back(std::move(key), std::move(v));
  return object_.back().second;
}

const value* value::find(std::string_view key) const noexcept {
  if (kind_ != kind::object) return nullptr;
  for (const auto& [k, v] : object_) {
    if (k == key) return &v;
  }
  return nullptr;
}

const value& value::at(std::string_view key) const {
  const value* v = find(key);
  if (!v) throw error("missing \"" + std::string(key) + "\"");
  return *v;
}

// ---- writer ------------------------------------------------------------------------------------

namespace {

void write_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// Scalars, and arrays of scalars: written on one line.
bool is_inline(const value& v) {
  if (v.type() == value::kind::object) return false;
  if (v.type() != value::kind::array) return true;
  for (const value& e : v.as_array()) {
    if (e.type() == value::kind::array || e.type() == value::kind::object) return false;
  }
  return true;
}

void write_number(std::string& out, const value& v) {
  char buf[32];
  std::to_chars_result r{};
  if (v.is_uint()) {
    r = std::to_chars(buf, buf + sizeof buf, v.as_uint());
  } else if (std::isfinite(v.as_double())) {
    r = std::to_chars(buf, buf + sizeof buf, v.as_double());  // shortest exact form
  } else {
    out += "null";
    return;
  }
  out.append(buf, r.ptr);
}

void write_value(std::string& out, const value& v, std::size_t depth) {
  const auto newline = [&](std::size_t d) {
    out += '\n';
    out.append(2 * d, ' ');
  };
  switch (v.type()) {
    case value::kind::null:
      out += "null";
      break;
    case value::kind::boolean:
      out += v.as_bool() ? "true" : "false";
      break;
    case value::kind::number:
      write_number(out, v);
      break;
    case value::kind::string:
      write_string(out, v.as_string());
      break;
    case value::kind::array: {
      const auto& a = v.as_array();
      if (a.empty()) {
        out += "[]";
        break;
      }
      // Elements that fit on a line (histogram buckets: [index, count]) go
      // eight to a line; anything else one per line.
      bool all_inline = true;
      for (const value& e : a) all_inline = all_inline && is_inline(e);
      const bool short_array = is_inline(v) && a.size() <= 8;
      out += '[';
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        if (short_array) {
          if (i) out += ' ';
        } else if (!all_inline || i % 8 == 0) {
          newline(depth + 1);
        } else {
          out += ' ';
        }
        write_value(out, a[i], depth + 1);
      }
      if (!short_array) newline(depth);
      out += ']';
      break;
    }
    case value::kind::object: {
      const auto& o = v.as_object();
      if (o.empty()) {
        out += "{}";
        break;
      }
      out += '{';
      for (std::size_t i = 0; i < o.size(); ++i) {
        if (i) out += ',';
        newline(depth + 1);
        write_string(out, o[i].first);
        out += ": ";
        write_value(out, o[i].second, depth + 1);
      }
      newline(depth);
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string write(const value& v) {
  std::string out;
  write_value(out, v, 0);
  out += '\n';
  return out;
}

// ---- reader ------------------------------------------------------------------------------------

namespace {

class reader {
 public:
  explicit reader(std::string_view text) : text_(text) {}

  value document() {
    value v = parse_value(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the document");
    return v;
  }

 private:
  static constexpr int max_depth = 64;

  [[noreturn]] void fail(const std::string& what) const {
    throw error("JSON: " + what + " at byte " + std::to_string(pos_));
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }

  char peek() {
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end of input");
    return text_[pos_];
  }

  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  void literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) fail("bad literal");
    pos_ += word.size();
  }

  value parse_value(int depth) {
    if (depth > max_depth) fail("nesting too deep");
    switch (peek()) {
      case '{':
        return parse_object(depth);
      case '[':
        return parse_array(depth);
      case '"':
        return value(parse_string());
      case 't':
        literal("true");
        return value(true);
      case 'f':
        literal("false");
        return value(false);
      case 'n':
        literal("null");
        return value();
      default:
        return parse_number();
    }
  }

  value parse_object(int depth) {
    expect('{');
    value obj = value::object();
    if (peek() == '}') {
      ++pos_;
      return obj;
    }
    for (;;) {
      if (peek() != '"') fail("expected a string key");
      std::string key = parse_string();
      expect(':');
      obj.set(std::move(key), parse_value(depth + 1));
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      return obj;
    }
  }

  value parse_array(int depth) {
    expect('[');
    value arr = value::array();
    if (peek() == ']') {
      ++pos_;
      return arr;
    }
    for (;;) {
      arr.push(parse_value(depth + 1));
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']');
      return arr;
    }
  }

  unsigned hex4() {
    if (pos_ + 4 > text_.size()) fail("short \\u escape");
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, v, 16);
    if (ec != std::errc() || end != text_.data() + pos_ + 4) fail("bad \\u escape");
    pos_ += 4;
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated escape");
      switch (text_[pos_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00) {  // a surrogate pair
            if (text_.substr(pos_, 2) != "\\u") fail("lone surrogate");
            pos_ += 2;
            const unsigned low = hex4();
            if (low < 0xdc00 || low >= 0xe000) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            fail("lone surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }

  value parse_number() {
    const std::size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    const std::size_t int_start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ == int_start) fail("expected a value");
    if (text_[int_start] == '0' && pos_ - int_start > 1) fail("leading zero");
    bool integral = text_[start] != '-';
    if (pos_ < text_.size() && text_[pos_] == '.') {
      integral = false;
      const std::size_t frac = ++pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == frac) fail("digits expected after '.'");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      const std::size_t exp = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == exp) fail("digits expected in the exponent");
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (integral) {
      std::uint64_t u = 0;
      const auto [end, ec] = std::from_chars(first, last, u);
      if (ec == std::errc() && end == last) return value(u);
    }
    double d = 0;
    const auto [end, ec] = std::from_chars(first, last, d);
    if (ec != std::errc() || end != last) fail("bad number");
    return value(d);
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

value parse(std::string_view text) { return reader(text).document(); }

}  // namespace weft::load::json
