// throw_errno: the one way the runtime turns a failed system call into an
// exception.
#pragma once

#include <system_error>

namespace weft::detail {

/// Throws std::system_error for the errno value `err`, with `what` (the
/// operation, e.g. "weft::net: socket") as its message prefix.
[[noreturn]] inline void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

}  // namespace weft::detail
