// weft::generator<T>: a stackful generator. Its body runs on a stack of its
// own and may yield from any depth of nested calls (C++23's std::generator,
// stackless, can yield only from the coroutine itself); inside a fiber, the
// body may also use any weft wait. See docs/generators.md.
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "weft/detail/generator_core.hpp"

namespace weft {

template <class T>
class generator;

/// Handed to a generator's body: calling it hands `value` to the consumer
/// and suspends the body until the next value is wanted. Pass it down by
/// reference to yield from nested calls.
template <class T>
class yield_to {
 public:
  yield_to(const yield_to&) = delete;
  yield_to& operator=(const yield_to&) = delete;

  /// Hands `value` to the consumer; returns when the next value is asked for.
  void operator()(T value) {
    slot_.emplace(std::move(value));
    core_.suspend();
  }

 private:
  friend class generator<T>;
  yield_to(detail::generator_core& core, std::optional<T>& slot) : core_(core), slot_(slot) {}
  detail::generator_core& core_;
  std::optional<T>& slot_;
};

/// A lazy sequence of T computed by `body(yield_to<T>&)` on a stack of its
/// own: the body runs only when a value is asked for, up to its next
/// yield. Move-only; an input range (begin(), end(), and ++ resume the
/// body). An exception thrown by the body comes out of the call that
/// resumed it. Destroying a generator whose body has not returned unwinds
/// the body: its destructors run (a body must let that unwinding through:
/// a catch (...) that does not rethrow would keep it from ending).
/// Usable on plain threads and in fibers; one consumer at a time, and the
/// consumer may change (a generator may be moved to another fiber or thread).
template <class T>
class generator {
  // The value slot, shared by the consumer and the body.
  struct shared {
    virtual ~shared() = default;
    std::optional<T> value;
    detail::generator_core* core = nullptr;
  };
  // The body with its stack. The core is declared last, so it is destroyed
  // first: an unfinished body unwinds while its callable and the value
  // slot still exist.
  template <class F>
  struct body_on_stack final : shared {
    body_on_stack(F fn, std::size_t stack_size)
        : body(std::move(fn)), stack(&run, this, stack_size) {
      this->core = &stack;
    }
    static void run(void* self, detail::generator_core& core) {
      auto* s = static_cast<body_on_stack*>(self);
      yield_to<T> yield(core, s->value);
      s->body(yield);
    }
    F body;
    detail::generator_core stack;
  };

 public:
  class iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = std::remove_cvref_t<T>;
    using difference_type = std::ptrdiff_t;

    iterator() = default;
    /// The current value (valid until the next ++).
    T& operator*() const { return *owner_->shared_->value; }
    /// Resumes the body for the next value.
    iterator& operator++() {
      owner_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return it.at_end();
    }

   private:
    [[nodiscard]] bool at_end() const noexcept {
      return owner_ == nullptr || !owner_->shared_->value.has_value();
    }
    friend class generator;
    explicit iterator(generator* owner) : owner_(owner) {}
    generator* owner_ = nullptr;
  };

  /// A generator of the values `body(yield_to<T>&)` yields, on a stack of
  /// `stack_size` bytes (0: the default fiber stack size). Nothing runs yet.
  template <class F>
  requires std::is_invocable_v < std::decay_t<F>
  &, yield_to<T>& > explicit generator(F&& body, std::size_t stack_size = 0)
      : shared_(
            std::make_unique<body_on_stack<std::decay_t<F>>>(std::forward<F>(body), stack_size)) {}

  generator(generator&&) noexcept = default;
  generator& operator=(generator&&) noexcept = default;

  /// Runs the body to its first yield.
  iterator begin() {
    advance();
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

  /// The next value; std::nullopt once the body has returned.
  std::optional<T> next() {
    advance();
    return std::exchange(shared_->value, std::nullopt);
  }

 private:
  void advance() {
    shared_->value.reset();
    (void)shared_->core->resume();
  }
  std::unique_ptr<shared> shared_;
};

}  // namespace weft
