// Helpers shared by the test files.
#pragma once

#include <cstddef>

namespace weft::test {

/// Worker counts every scheduler test runs with (oversubscribed on small
/// machines on purpose: 8 workers on 2 cores exercises preemption by the OS).
inline constexpr unsigned worker_counts[] = {1, 2, 4, 8};

/// Stress sizes: full in plain builds, divided by `divisor` under sanitizers
/// (ASan and TSan slow switching and atomics by 5–50×).
constexpr std::size_t scaled(std::size_t n, std::size_t divisor = 10) {
#ifdef WEFT_TEST_SANITIZED
  return n / divisor;
#else
  (void)divisor;
  return n;
#endif
}

}  // namespace weft::test
