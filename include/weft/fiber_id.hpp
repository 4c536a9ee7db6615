// weft::fiber_id: the identity of one fiber, for logs, maps and dumps.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <iosfwd>

namespace weft {

/// Identifies one fiber for the lifetime of the process. Ids are never reused.
/// A default-constructed `fiber_id{}` means "no fiber" (what
/// `this_fiber::get_id()` returns on a plain thread). Regular, ordered,
/// hashable (`std::hash<weft::fiber_id>`) and streamable (prints the number,
/// or "none").
class fiber_id {
 public:
  constexpr fiber_id() noexcept = default;
  /// Wraps a raw id; 0 is "no fiber".
  constexpr explicit fiber_id(std::uint64_t value) noexcept : value_(value) {}

  /// The raw number; 0 for "no fiber".
  [[nodiscard]] constexpr std::uint64_t value() const noexcept { return value_; }
  /// True for the id of a fiber, false for `fiber_id{}`.
  constexpr explicit operator bool() const noexcept { return value_ != 0; }

  friend constexpr bool operator==(fiber_id, fiber_id) noexcept = default;
  friend constexpr std::strong_ordering operator<=>(fiber_id, fiber_id) noexcept = default;

 private:
  std::uint64_t value_ = 0;
};

/// Writes the id's number, or "none" for `fiber_id{}`.
std::ostream& operator<<(std::ostream& out, fiber_id id);

}  // namespace weft

/// Hashes a fiber_id like its raw number.
template <>
struct std::hash<weft::fiber_id> {
  std::size_t operator()(weft::fiber_id id) const noexcept {
    return std::hash<std::uint64_t>{}(id.value());
  }
};
