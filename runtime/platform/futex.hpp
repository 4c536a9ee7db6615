// futex: block a thread until a 32-bit word changes, without spinning.
//
// std::atomic::wait/notify would do, but notify after the waiter may have
// returned and freed the word is only safe with the raw system call, which
// never dereferences the address (the kernel hashes it). Waiters here live on
// the stacks of the threads they block, so we use the system call directly.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace weft::detail {

/// Blocks while `word == expected`, until futex_wake or `timeout` (nullptr:
/// no limit). Spurious returns happen: callers re-check their condition.
void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const std::chrono::nanoseconds* timeout = nullptr) noexcept;

/// Wakes up to `count` threads blocked in futex_wait on `word`. Safe even if
/// `word` has been freed since (the address is only a key).
void futex_wake(const std::atomic<std::uint32_t>& word, int count) noexcept;

}  // namespace weft::detail
