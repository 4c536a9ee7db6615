// weft::detail::local_queue -- a worker's run queue: a Chase-Lev work-stealing deque.
//
// Protocol. Each worker owns one queue. The owner pushes and pops at the *bottom* (LIFO: the most
// recently readied fiber is the one whose data is hot in cache); any other thread steals at the
// *top* (FIFO: the oldest work). Access is split into two handles, like tokio's Local/Steal: one
// move-only `owner` (push/pop, owner thread only) and any number of copyable `stealer`s (steal,
// any thread). Elements live in a power-of-two ring of std::atomic<T>, addressed by two 64-bit
// signed indices that only ever grow (they never wrap in practice): the live range is
// [top, bottom) and index i lives in slot i & mask.
//
// Invariants.
//  * Only the owner writes `bottom`. `top` only increases, and only by CAS(top, t, t + 1).
//  * top <= bottom, except transiently inside pop(), which publishes bottom - 1 *before* it reads
//    top, and puts bottom back if the queue turns out to be empty or it lost the last element.
//  * Every index is taken by exactly one party. A thief claims index t with its CAS on top. The
//    owner claims b = bottom - 1 by publishing bottom = b first: if it then reads top < b, every
//    thief either reads the new bottom or a top <= the one the owner read, so none can reach b and
//    the owner takes it without an atomic RMW. If it reads top == b (the last element) owner and
//    thieves race with the same CAS on top; the loser gets nothing.
//  * Only the owner replaces the buffer (growth: double it, copy [top, bottom), publish). A thief
//    that loaded the old buffer just before may still read it, so retired buffers are never freed
//    while the queue lives: they stay in a list owned by the queue and die in its destructor
//    (total < 2x the largest buffer). A retired buffer is never written again, so it still holds
//    the right value for any index a thief that read it can go on to claim.
//
// Orderings. Lê et al. give the algorithm C11 orderings as relaxed accesses plus standalone fences.
// ThreadSanitizer does not model atomic_thread_fence and would report races on the data published
// through the pointers we carry, so each fence is folded into the access next to it:
//  * push: fence(release) + relaxed store of bottom => bottom.store(release). Thieves read bottom
//    with (at least) acquire, so the element and everything written before push() (a fiber's
//    state, say) happen-before the thief's use of it.
//  * pop: bottom.store; fence(seq_cst); top.load => both seq_cst. steal: top.load(acquire);
//    fence(seq_cst); bottom.load(acquire) => both seq_cst. The two pairs form a Dekker-style
//    store->load handshake: the owner and a thief cannot both miss each other's index update and
//    both take the last element.
//  * CAS on top: seq_cst, as in the paper. A successful CAS is also the release that push()'s
//    acquire load of top pairs with, so a thief's read of a slot happens-before the owner reuses
//    that slot after wrap-around. (Only CASes modify top, so every later value continues the
//    release sequence.)
//  * buffer pointer: the paper's consume becomes acquire (what compilers emit for consume anyway);
//    it pairs with the release store that publishes a grown buffer and its copied elements.
//  * pop's store that puts bottom back: relaxed in the paper, release here (free on x86) so a
//    thief that reads it also sees the top value that made the queue empty.
// Everything else is relaxed; each site says why that is enough.
//
// Gated claims. An owner's claim (pop, take_at, drop_newest_while) takes a claim_policy. With a
// steal gate (steal_gate.hpp) it publishes bottom with a plain store, asks the gate whether any
// other party holds a licence to steal, and executes the store->load fence only then: a thief
// takes its licence and then executes an asymmetric fence (membarrier), which stands in for the
// owner's fence of every claim that found no licence. steal_gate.hpp gives the argument.
//
// Single-item steal only. A batch steal (CAS top from t to t + k) is unsafe here: pop() claims
// bottom - 1 without an RMW whenever it sees more than one element, so a thief that read (t, b)
// earlier could claim indices the owner has popped since. Tokio's queue can steal half because its
// owner pop CASes the head too; Chase-Lev trades that for a CAS-free common-case pop.
//
// References: D. Chase, Y. Lev, "Dynamic circular work-stealing deque", SPAA 2005.
//   N. M. Lê, A. Pop, A. Cohen, F. Zappa Nardelli, "Correct and efficient work-stealing for weak
//   memory models", PPoPP 2013.

#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft::detail {

// Outcome of stealer::steal().
enum class steal_status {
  empty,    // The queue was observed empty.
  success,  // `value` holds the stolen element.
  retry,    // Lost a race with the owner or another thief; the queue may still hold work.
};

// How an owner's claim (pop, take_at, drop_newest_while) orders itself against thieves.
class claim_policy {
 public:
  // `thieves` false: nobody else takes from this deque (a runtime with one worker), so a claim
  // needs no handshake at all; true: Chase-Lev's handshake, fence included, on every claim.
  // Implicit: a claim called with a bool reads as "thieves exist or not".
  claim_policy(bool thieves) noexcept : thieves_(thieves) {}  // NOLINT(google-explicit-constructor)
  // Thieves steal only while holding a licence counted in `licences` (steal_gate.hpp); the
  // owner holds `own` of them itself. The claim fences only while others hold one.
  static claim_policy gated(const std::atomic<std::uint32_t>& licences, bool own) noexcept {
    claim_policy policy(true);
    policy.licences_ = &licences;
    policy.own_ = own ? 1 : 0;
    return policy;
  }
  [[nodiscard]] bool thieves() const noexcept { return thieves_; }
  [[nodiscard]] const std::atomic<std::uint32_t>* licences() const noexcept { return licences_; }
  [[nodiscard]] std::uint32_t own() const noexcept { return own_; }

 private:
  bool thieves_;
  std::uint32_t own_ = 0;
  const std::atomic<std::uint32_t>* licences_ = nullptr;  // null: always fence
};

template <class T>
struct steal_result {
  steal_status status = steal_status::empty;
  T value{};  // Meaningful only when status == steal_status::success.
};

template <class T, std::size_t InitialCapacity = 256>
class local_queue {
  static_assert(std::is_trivially_copyable_v<T>, "local_queue stores T in std::atomic<T>");
  static_assert(InitialCapacity >= 2 && (InitialCapacity & (InitialCapacity - 1)) == 0,
                "InitialCapacity must be a power of two >= 2");

  class ring;

 public:
  class owner;
  class stealer;

  local_queue() {
    buffers_.push_back(std::make_unique<ring>(static_cast<std::int64_t>(InitialCapacity)));
    // Relaxed: the queue is handed to other threads by some synchronizing operation (thread
    // start, a mutex, ...) that happens after this constructor.
    buffer_.store(buffers_.back().get(), std::memory_order_relaxed);
  }

  // Frees every buffer, retired or current. No handle may be in use any more.
  ~local_queue() = default;

  local_queue(const local_queue&) = delete;
  local_queue& operator=(const local_queue&) = delete;

  // The single owner handle. Call once; give it to the thread that pushes and pops.
  owner owner_handle() noexcept {
    assert(!owner_claimed_ && "local_queue::owner_handle() called twice");
    owner_claimed_ = true;
    return owner(this);
  }

  // A stealer handle; make as many as you like, use them from any thread.
  stealer stealer_handle() noexcept { return stealer(this); }

  class owner {
   public:
    owner(owner&& other) noexcept : queue_(std::exchange(other.queue_, nullptr)) {}
    owner& operator=(owner&& other) noexcept {
      queue_ = std::exchange(other.queue_, nullptr);
      return *this;
    }
    owner(const owner&) = delete;
    owner& operator=(const owner&) = delete;
    ~owner() = default;

    // Owner thread only. Adds `value` at the bottom; grows the buffer if full (may throw
    // std::bad_alloc, leaving the queue unchanged).
    void push(T value) {
      local_queue& q = *queue_;
      // Relaxed: only the owner writes bottom, and it reads its own latest store.
      const std::int64_t b = q.bottom_.load(std::memory_order_relaxed);
      // Acquire: pairs with the thieves' successful CASes on top, so their reads of the slots
      // below top happen-before we overwrite those slots after wrap-around.
      const std::int64_t t = q.top_.load(std::memory_order_acquire);
      // Relaxed: only the owner writes the buffer pointer.
      ring* a = q.buffer_.load(std::memory_order_relaxed);
      if (b - t > a->capacity() - 1) [[unlikely]]
        a = q.grow(a, t, b);
      // Relaxed: the release store of bottom below publishes it.
      a->store(b, value);
      // Release (the paper's fence(release) + relaxed store): pairs with the thief's load of
      // bottom, publishing the element and whatever it points to.
      q.bottom_.store(b + 1, std::memory_order_release);
    }

    // Owner thread only. Removes the most recently pushed element; nullopt if the queue is empty
    // (or a thief won the race for the last element). `thieves` false: nobody else takes from
    // this queue (a runtime with one worker), so no handshake is needed.
    std::optional<T> pop(claim_policy thieves = true) {
      local_queue& q = *queue_;
      // Relaxed: only the owner writes bottom and the buffer pointer.
      const std::int64_t b = q.bottom_.load(std::memory_order_relaxed) - 1;
      // Empty fast path, without the seq_cst store below (an xchg on x86, the dearest part of
      // a pop, paid on every scheduling decision that finds the deque empty). Relaxed is
      // enough: top only grows, so a stale top is <= the real one, and top > b here means
      // the deque is empty now too.
      if (q.top_.load(std::memory_order_relaxed) > b) return std::nullopt;
      ring* a = q.buffer_.load(std::memory_order_relaxed);
      if (!thieves.thieves()) {
        // Relaxed: no thief reads bottom to take an element (an idle-check may read it, as a
        // hint).
        q.bottom_.store(b, std::memory_order_relaxed);
        return a->load(b);
      }
      std::int64_t t = q.claim_from(b, thieves);
      if (t > b) {
        // Empty. Release: see the last store below.
        q.bottom_.store(b + 1, std::memory_order_release);
        return std::nullopt;
      }
      // Relaxed: the owner wrote this slot itself (or copied it there on growth).
      const T value = a->load(b);
      if (t < b) return value;  // More than one element: no thief can reach index b.
      // Last element: race the thieves for it with their own CAS. seq_cst as in the paper;
      // relaxed on failure since we then read nothing that a thief published.
      const bool won = q.top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                                      std::memory_order_relaxed);
      // Put bottom back (now top == bottom: empty). Release, where the paper has relaxed, so a
      // thief that reads this value also sees the top update that emptied the queue.
      q.bottom_.store(b + 1, std::memory_order_release);
      if (!won) return std::nullopt;
      return value;
    }

    // Owner thread only. The element `depth` places above the bottom one (0: the one pop() would
    // return), without taking it; nullopt if the queue looks shorter. A hint: a thief may take it
    // meanwhile (what the owner does next, pop() or take_at(), settles that).
    std::optional<T> peek_at(std::int64_t depth) const noexcept {
      local_queue& q = *queue_;
      // Relaxed: only the owner writes bottom, the buffer pointer and the slots; a stale top only
      // makes a taken element look present.
      const std::int64_t i = q.bottom_.load(std::memory_order_relaxed) - 1 - depth;
      if (q.top_.load(std::memory_order_relaxed) > i) return std::nullopt;
      return q.buffer_.load(std::memory_order_relaxed)->load(i);
    }
    // Owner thread only. Removes the newest elements for which `drop(value)` is true, newest
    // first, stopping at the first false or after `max`; returns how many. The range it looks at
    // is first made unreachable for thieves (pop()'s handshake for all of it at once, when
    // `thieves`), so `drop` may use what the elements point to: no thief can take one meanwhile.
    // If a thief may reach the range, it drops nothing (the caller pops later).
    template <class Drop>
    std::int64_t drop_newest_while(std::int64_t max, claim_policy thieves, Drop&& drop) {
      local_queue& q = *queue_;
      // Relaxed: only the owner writes bottom; a stale top only makes the range look longer.
      const std::int64_t b = q.bottom_.load(std::memory_order_relaxed);
      const std::int64_t n = std::min(max, b - q.top_.load(std::memory_order_relaxed));
      if (n <= 0) return 0;
      if (thieves.thieves()) {
        // With top below b - n afterwards, no thief can reach any index of [b - n, b) (as in
        // pop() with more than one element).
        if (q.claim_from(b - n, thieves) >= b - n) {
          q.bottom_.store(b, std::memory_order_release);  // as pop()'s restore
          return 0;
        }
      }
      // Relaxed: the owner wrote these slots itself.
      ring* a = q.buffer_.load(std::memory_order_relaxed);
      std::int64_t dropped = 0;
      while (dropped < n && drop(a->load(b - 1 - dropped))) ++dropped;
      // Release: the kept elements are published again, as by push().
      q.bottom_.store(b - dropped, std::memory_order_release);
      return dropped;
    }
    // Owner thread only. Takes the element `depth` places above the bottom one (seen with
    // peek_at()) and leaves T{} in its place, a hole that pop() and steal() return like any
    // element (the caller's T needs a value that means "nothing"); the others keep their
    // places, so an index once pushed at stays the element's. Returns false, changing nothing,
    // if a thief may reach it. `thieves` false: nobody else steals from this queue (no
    // handshake needed).
    bool take_at(std::int64_t depth, claim_policy thieves) {
      local_queue& q = *queue_;
      // Relaxed: only the owner writes bottom and the buffer pointer.
      const std::int64_t b = q.bottom_.load(std::memory_order_relaxed);
      const std::int64_t i = b - 1 - depth;
      ring* a = q.buffer_.load(std::memory_order_relaxed);
      if (!thieves.thieves()) {
        a->store(i, T{});
        return true;
      }
      // pop()'s handshake for [i, b): with top below i afterwards no thief can reach any index
      // of the range, so the owner may rewrite its slot.
      if (q.claim_from(i, thieves) >= i) {
        q.bottom_.store(b, std::memory_order_release);  // as pop()'s restore
        return false;
      }
      // Relaxed: published by the release store of bottom below.
      a->store(i, T{});
      // Release: thieves that read the restored bottom see the hole.
      q.bottom_.store(b, std::memory_order_release);
      return true;
    }
    // Owner thread only. The index the next push() will use; an element keeps its index until
    // it is taken (take_at() leaves a hole rather than moving the others).
    [[nodiscard]] std::int64_t next_index() const noexcept {
      // Relaxed: only the owner writes bottom.
      return queue_->bottom_.load(std::memory_order_relaxed);
    }
    // Owner thread only. Number of elements; exact unless thieves are stealing concurrently.
    std::size_t size_estimate() const noexcept {
      // Relaxed: a hint; nothing is read on the strength of it.
      const std::int64_t b = queue_->bottom_.load(std::memory_order_relaxed);
      const std::int64_t t = queue_->top_.load(std::memory_order_relaxed);
      return b > t ? static_cast<std::size_t>(b - t) : 0;
    }

    // Owner thread only. size_estimate() == 0.
    bool empty_estimate() const noexcept { return size_estimate() == 0; }

    // Owner thread only. Current buffer capacity (InitialCapacity, doubled per growth).
    std::size_t capacity() const noexcept {
      // Relaxed: only the owner writes the buffer pointer.
      return static_cast<std::size_t>(queue_->buffer_.load(std::memory_order_relaxed)->capacity());
    }

   private:
    friend class local_queue;
    explicit owner(local_queue* queue) noexcept : queue_(queue) {}

    local_queue* queue_;
  };

  class stealer {
   public:
    // Any thread. Tries to take the oldest element. `retry` means a race was lost and the queue
    // may still hold work; `empty` means it was observed empty.
    steal_result<T> steal() const {
      local_queue& q = *queue_;
      // seq_cst load of top, then seq_cst load of bottom: the paper's load(top, acquire);
      // fence(seq_cst); load(bottom, acquire). Pairs with pop()'s seq_cst store/load (see there);
      // the acquire on bottom pairs with push()'s release store, publishing the element.
      std::int64_t t = q.top_.load(std::memory_order_seq_cst);
      const std::int64_t b = q.bottom_.load(std::memory_order_seq_cst);
      if (t >= b) return {steal_status::empty, T{}};
      // Acquire (the paper's consume): pairs with grow()'s release store, so a grown buffer's
      // copied elements are visible. A stale older buffer is fine (see the essay).
      ring* a = q.buffer_.load(std::memory_order_acquire);
      // Relaxed: published by the acquire loads above. The value may be stale if the owner has
      // wrapped around over it, but then top has moved past t and the CAS below fails.
      const T value = a->load(t);
      // seq_cst, as in the paper: claims index t against the owner and other thieves; on success
      // it is also the release that push()'s acquire load of top pairs with. Relaxed on failure:
      // we discard `value`.
      if (!q.top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                          std::memory_order_relaxed)) {
        return {steal_status::retry, T{}};
      }
      return {steal_status::success, value};
    }

    // Any thread. True if the queue looked empty; may be stale by the time it returns.
    bool empty_estimate() const noexcept {
      // Relaxed: a hint; nothing is read on the strength of it.
      const std::int64_t t = queue_->top_.load(std::memory_order_relaxed);
      const std::int64_t b = queue_->bottom_.load(std::memory_order_relaxed);
      return t >= b;
    }

    // Any thread. The indices now: `top` counts elements taken from the top (by thieves, and by
    // the owner's pop of the last element, a CAS on `top` too), `bottom` elements pushed less those
    // the owner popped. So a `top` unchanged between two looks, with elements queued at both, means
    // the oldest element was not taken in between: it waited at least that long.
    struct positions {
      std::int64_t top, bottom;
    };
    positions positions_estimate() const noexcept {
      // Relaxed: a hint; the steal that may follow synchronizes on its own.
      return {queue_->top_.load(std::memory_order_relaxed),
              queue_->bottom_.load(std::memory_order_relaxed)};
    }

   private:
    friend class local_queue;
    explicit stealer(local_queue* queue) noexcept : queue_(queue) {}

    local_queue* queue_;
  };

 private:
  // A power-of-two ring of atomic slots. Slot accesses are all relaxed: ordering comes from the
  // top/bottom/buffer-pointer accesses around them.
  class ring {
   public:
    explicit ring(std::int64_t capacity)
        : mask_(capacity - 1),
          slots_(std::make_unique<std::atomic<T>[]>(static_cast<std::size_t>(capacity))) {}

    std::int64_t capacity() const noexcept { return mask_ + 1; }
    T load(std::int64_t index) const noexcept {
      return slot(index).load(std::memory_order_relaxed);
    }
    void store(std::int64_t index, T value) noexcept {
      slot(index).store(value, std::memory_order_relaxed);
    }

   private:
    std::atomic<T>& slot(std::int64_t index) const noexcept {
      return slots_[static_cast<std::size_t>(index & mask_)];
    }

    std::int64_t mask_;
    std::unique_ptr<std::atomic<T>[]> slots_;
  };

  // Owner thread only. The handshake of a claim of every index from `b` up: publishes bottom = b,
  // then reads top. Either side of the store->load pair needs a fence, or the owner and a thief
  // can both miss the other's index update and take the same element.
  std::int64_t claim_from(std::int64_t b, claim_policy thieves) noexcept {
    const std::atomic<std::uint32_t>* licences = thieves.licences();
    // Relaxed: a first look; the one that counts is after the store below.
    if (licences == nullptr || licences->load(std::memory_order_relaxed) > thieves.own()) {
      // seq_cst store, then seq_cst load of top: the paper's store; fence(seq_cst); load.
      bottom_.store(b, std::memory_order_seq_cst);
      return top_.load(std::memory_order_seq_cst);
    }
    // Gated (steal_gate.hpp), and no other licence was out. Relaxed store: a licensed thief's
    // asymmetric fence, or the exchange below, orders it before the loads that follow. The
    // signal fence keeps the compiler from moving the licence load above the store; the
    // hardware may, which the thief's asymmetric fence covers. Acquire on licences: pairs with
    // a returned licence's release, so a thief's last steal is visible to the load of top.
    bottom_.store(b, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (licences->load(std::memory_order_acquire) > thieves.own()) {
      // A licence came out meanwhile: the handshake after all (the exchange is the seq_cst
      // store; a locked instruction is also cheaper than an mfence on x86).
      bottom_.exchange(b, std::memory_order_seq_cst);
      return top_.load(std::memory_order_seq_cst);
    }
    // Acquire: pairs with the thieves' CASes on top, as the seq_cst load above.
    return top_.load(std::memory_order_acquire);
  }

  // Owner thread only. Replaces `old` by a ring of twice its capacity holding [t, b), and
  // returns it. `old` is retired, not freed: thieves may still be reading it. Out of line and
  // cold: inlined, its allocation made every push save six registers.
  [[gnu::noinline, gnu::cold]] ring* grow(ring* old, std::int64_t t, std::int64_t b) {
    auto bigger = std::make_unique<ring>(old->capacity() * 2);
    // Relaxed loads: the owner wrote these slots itself. Relaxed stores: published by the
    // release store of the buffer pointer below (and by push()'s release store of bottom).
    // Indices below the current top may already be stolen; copying them is harmless.
    for (std::int64_t i = t; i < b; ++i) bigger->store(i, old->load(i));
    ring* raw = bigger.get();
    buffers_.push_back(std::move(bigger));  // May throw; nothing has been published yet.
    // Release: pairs with steal()'s acquire load, publishing the copied elements.
    buffer_.store(raw, std::memory_order_release);
    return raw;
  }

  static constexpr std::size_t kCacheLine = 64;

  // top and bottom on separate cache lines: thieves CAS top, the owner writes bottom.
  alignas(kCacheLine) std::atomic<std::int64_t> top_{0};
  alignas(kCacheLine) std::atomic<std::int64_t> bottom_{0};
  // The current ring. Written by the owner only, on growth.
  alignas(kCacheLine) std::atomic<ring*> buffer_{nullptr};
  // Every ring ever allocated, current one last. Owner thread only; freed by the destructor.
  std::vector<std::unique_ptr<ring>> buffers_;
  bool owner_claimed_ = false;
};

}  // namespace weft::detail
