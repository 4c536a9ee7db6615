// weft::parallel_for, parallel_reduce, parallel_invoke: fork-join on fibers.
#pragma once

#include <exception>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/join_handle.hpp"
#include "weft/runtime.hpp"

namespace weft {

namespace detail {

/// Lazy binary splitting's test: true when the calling worker's own queue
/// is empty, i.e. thieves took all its spare work and more splitting would
/// feed them (Tzannes, Caragea, Barua, Vishkin, PPoPP 2010). False on a
/// plain thread.
bool should_split() noexcept;

/// Runs `fn` as a fiber on the calling fiber's runtime: directly when
/// called from a fiber, else through default_runtime().block_on.
template <class F>
decltype(auto) on_some_runtime(F&& fn) {
  if (runtime::current()) return std::forward<F>(fn)();
  return default_runtime().block_on(std::forward<F>(fn));
}

template <class I>
I half_way(I first, I last) {
  return first + (last - first) / 2;
}

/// Keeps the first exception of several joined tasks.
struct first_error {
  std::exception_ptr error;
  template <class T>
  std::optional<T> join(join_handle<T>& h) {
    try {
      return std::optional<T>(h.join());
    } catch (...) {
      if (!error) error = std::current_exception();
      return std::nullopt;
    }
  }
  void join(join_handle<void>& h) {
    try {
      h.join();
    } catch (...) {
      if (!error) error = std::current_exception();
    }
  }
  void rethrow() const {
    if (error) std::rethrow_exception(error);
  }
};

// [first, last) in pieces of at most `grain`, splitting off the upper half
// as a new fiber whenever should_split() says the worker has nothing queued.
template <class I, class F>
void for_range(I first, I last, I grain, F& body) {
  std::vector<join_handle<void>> halves;
  first_error errors;
  try {
    while (last - first > grain) {
      if (should_split()) {
        const I mid = half_way(first, last);
        halves.push_back(
            weft::spawn([mid, last, grain, &body] { for_range(mid, last, grain, body); }));
        last = mid;
      } else {
        const I stop = first + grain;
        for (; first != stop; ++first) body(first);
      }
    }
    for (; first != last; ++first) body(first);
  } catch (...) {
    errors.error = std::current_exception();
  }
  for (auto& h : halves) errors.join(h);  // always join: the halves use `body`
  errors.rethrow();
}

// The reduction of [first, last) without `init` (nullopt for an empty range).
template <class I, class T, class Map, class Reduce>
std::optional<T> reduce_range(I first, I last, I grain, Map& map, Reduce& reduce) {
  std::vector<join_handle<std::optional<T>>> halves;
  first_error errors;
  std::optional<T> acc;
  auto add = [&](std::optional<T>&& part) {
    if (!part) return;
    acc = acc ? std::optional<T>(reduce(std::move(*acc), std::move(*part))) : std::move(part);
  };
  try {
    while (last - first > grain) {
      if (should_split()) {
        const I mid = half_way(first, last);
        halves.push_back(weft::spawn([mid, last, grain, &map, &reduce] {
          return reduce_range<I, T>(mid, last, grain, map, reduce);
        }));
        last = mid;
      } else {
        const I stop = first + grain;
        for (; first != stop; ++first) add(std::optional<T>(map(first)));
      }
    }
    for (; first != last; ++first) add(std::optional<T>(map(first)));
  } catch (...) {
    errors.error = std::current_exception();
  }
  // Halves cover the range above ours, the nearest first: fold them in order.
  for (auto it = halves.rbegin(); it != halves.rend(); ++it) {
    if (auto part = errors.join(*it)) add(std::move(*part));
  }
  errors.rethrow();
  return acc;
}

}  // namespace detail

/// body(i) for every i in [first, last), in parallel, with pieces of at most
/// `grain` indices run sequentially. I is an integer type. Splitting is adaptive (lazy binary
/// splitting): a range is split only while the worker's own queue is empty, so uneven bodies
/// balance and tiny ranges cost little (a range of 1 runs inline). Runs on
/// the calling fiber's runtime, or the default one from a plain thread.
/// The first exception a body throws is rethrown (after every running piece
/// finished); the rest are dropped. Nests freely. Throws
/// std::invalid_argument if grain < 1.
template <class I, class F>
void parallel_for(I first, I last, I grain, F body) {
  if (grain < I(1)) throw std::invalid_argument("weft::parallel_for: grain must be >= 1");
  if (!(first < last)) return;
  if (last - first <= grain) {
    for (; first != last; ++first) body(first);
    return;
  }
  detail::on_some_runtime([&] { detail::for_range(first, last, grain, body); });
}
/// parallel_for with grain 1 (splitting stays adaptive).
template <class I, class F>
void parallel_for(I first, I last, F body) {
  parallel_for(first, last, I(1), std::move(body));
}

/// reduce(init, map(i)...) over [first, last) in parallel, in some grouping
/// of the ordered sequence: `reduce` must be associative (not necessarily
/// commutative); `init` is used once. Splitting, runtime and exceptions as
/// parallel_for.
template <class I, class T, class Map, class Reduce>
T parallel_reduce(I first, I last, T init, Map map, Reduce reduce) {
  if (!(first < last)) return init;
  std::optional<T> total = detail::on_some_runtime(
      [&] { return detail::reduce_range<I, T>(first, last, I(1), map, reduce); });
  return total ? reduce(std::move(init), std::move(*total)) : init;
}

/// Runs every callable in parallel (the last one on the calling fiber) and
/// waits for all; rethrows the first exception.
template <class... F>
void parallel_invoke(F&&... fns) {
  static_assert(sizeof...(F) > 0, "weft::parallel_invoke needs at least one callable");
  detail::on_some_runtime([&] {
    auto all = std::forward_as_tuple(std::forward<F>(fns)...);
    constexpr std::size_t n = sizeof...(F);
    std::vector<join_handle<void>> others;
    detail::first_error errors;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (others.push_back(weft::spawn([&f = std::get<I>(all)] { f(); })), ...);
    }
    (std::make_index_sequence<n - 1>{});
    try {
      std::get<n - 1>(all)();
    } catch (...) {
      errors.error = std::current_exception();
    }
    for (auto& h : others) errors.join(h);
    errors.rethrow();
  });
}

}  // namespace weft
