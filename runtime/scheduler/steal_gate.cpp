// The steal gate. See steal_gate.hpp.
#include "scheduler/steal_gate.hpp"

#include "platform/asymmetric_fence.hpp"
#include "platform/environment.hpp"

namespace weft::detail {

namespace {

// The gate's own licence when it is not asymmetric: never returned, so every claim fences.
constexpr std::uint32_t permanent_licence = 1;

}  // namespace

steal_gate::steal_gate(bool asymmetric) noexcept
    : asymmetric_(asymmetric && asymmetric_fence_available()),
      licences_(asymmetric_ ? 0 : permanent_licence) {}

void steal_gate::take_licence() noexcept {
  // seq_cst: the licence is in the order of every CPU's barriers before the heavy fence's
  // (steal_gate.hpp, "Why that is enough").
  licences_.fetch_add(1, std::memory_order_seq_cst);
  if (asymmetric_) heavy_fence();
}

bool steal_gate_wanted() { return switch_from_environment("WEFT_STEAL_GATE").value_or(true); }

}  // namespace weft::detail
