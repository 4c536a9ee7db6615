// weft-load: the little JSON the reports need. A value tree, a writer
// (indented, keys in insertion order) and a strict reader (RFC 8259 with a
// nesting limit). Integers that fit in 64 bits are kept exact, so histogram
// counts survive a round trip bit for bit.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::load::json {

/// Thrown by parse() (with the byte offset in the message) and by the
/// typed accessors of value.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class value {
 public:
  enum class kind { null, boolean, number, string, array, object };
  using array_t = std::vector<value>;
  using object_t = std::vector<std::pair<std::string, value>>;

  value() = default;                                 ///< null
  value(bool b) : kind_(kind::boolean), bool_(b) {}  // NOLINT: implicit by design
  value(std::uint64_t u) : kind_(kind::number), uint_(true), u_(u), d_(static_cast<double>(u)) {}
  value(int i) : value(static_cast<double>(i)) {
    if (i >= 0) *this = value(static_cast<std::uint64_t>(i));
  }
  value(unsigned u) : value(static_cast<std::uint64_t>(u)) {}
  value(double d) : kind_(kind::number), d_(d) {}
  value(std::string s) : kind_(kind::string), str_(std::move(s)) {}
  value(const char* s) : value(std::string(s)) {}
  static value array() {
    value v;
    v.kind_ = kind::array;
    return v;
  }
  static value object() {
    value v;
    v.kind_ = kind::object;
    return v;
  }

  [[nodiscard]] kind type() const noexcept { return kind_; }
  [[nodiscard]] bool is_null() const noexcept { return kind_ == kind::null; }
  /// A number that is an exact non-negative 64-bit integer.
  [[nodiscard]] bool is_uint() const noexcept { return kind_ == kind::number && uint_; }

  /// Typed access; throw json::error naming the expected type.
  [[nodiscard]] bool as_bool() const;
  [[nodiscard]] double as_double() const;
  /// A non-negative integer written without fraction or exponent.
  [[nodiscard]] std::uint64_t as_uint() const;
  [[nodiscard]] const std::string& as_string() const;
  [[nodiscard]] const array_t& as_array() const;
  [[nodiscard]] const object_t& as_object() const;

  /// Appends to an array.
  value& push(value v);
  /// Sets a member of an object (appended; keys are not checked for duplicates).
  value& set(std::string key, value v);
  /// The member `key` of an object, or nullptr if absent (or not an object).
  [[nodiscard]] const value* find(std::string_view key) const noexcept;
  /// The member `key`; throws json::error if absent.
  [[nodiscard]] const value& at(std::string_view key) const;

 private:
  kind kind_ = kind::null;
  bool bool_ = false;
  bool uint_ = false;  ///< the number is the exact integer u_
  std::uint64_t u_ = 0;
  double d_ = 0;
  std::string str_;
  array_t array_;
  object_t object_;
};

/// Writes `v` as JSON, indented by two spaces per level, short arrays of
/// numbers on one line. Doubles use the shortest text that reads back
/// exactly; NaN and infinities (not JSON) are written as null.
std::string write(const value& v);

/// Parses one JSON document (surrounding whitespace allowed). Throws
/// json::error with the byte offset on malformed input, or nesting deeper
/// than 64.
value parse(std::string_view text);

}  // namespace weft::load::json
