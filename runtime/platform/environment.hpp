// Switches read from the environment (WEFT_INJECT_BATCHES, WEFT_STEAL_GATE, ...).
#pragma once

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace weft::detail {

/// The environment variable `name` as an on/off switch: "1" true, "0" false,
/// unset or empty nullopt (the caller's default). Any other value throws
/// std::invalid_argument naming the variable.
inline std::optional<bool> switch_from_environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  const std::string_view setting(value);
  if (setting == "1") return true;
  if (setting == "0") return false;
  throw std::invalid_argument(std::string(name) + ": \"" + value + "\" is not 0 or 1");
}

}  // namespace weft::detail
