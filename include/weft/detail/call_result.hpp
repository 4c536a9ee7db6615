// Internal: where a callable's result waits between the call (perhaps on
// another stack or thread) and its caller. Not part of the API.
#pragma once

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft::detail {

/// Holds the result of one call returning R (a value, a reference, or
/// nothing): run() makes the call and keeps what it returned, take() hands
/// it over, once.
template <class R>
class call_result {
 public:
  /// Calls f() and keeps its result (an exception passes through).
  template <class F>
  void run(F&& f) {
    if constexpr (std::is_void_v<R>) {
      std::invoke(std::forward<F>(f));
    } else {
      value_.emplace(std::invoke(std::forward<F>(f)));
    }
  }
  /// The result run() kept. Precondition: run() returned normally.
  R take() {
    if constexpr (std::is_reference_v<R>) {
      return static_cast<R>(value_->get());
    } else if constexpr (!std::is_void_v<R>) {
      return std::move(*value_);
    }
  }

 private:
  using stored = std::conditional_t<std::is_reference_v<R>,
                                    std::reference_wrapper<std::remove_reference_t<R>>, R>;
  std::conditional_t<std::is_void_v<R>, bool, std::optional<stored>> value_{};
};

}  // namespace weft::detail
