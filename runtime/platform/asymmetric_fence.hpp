// asymmetric_fence: the heavy half of an asymmetric Dekker handshake.
//
// A fast side that runs often (a worker linking a fiber into its registry
// shard, resuming a fiber) pairs a plain store and a later load with only a
// compiler barrier between them; the rare slow side (an inspector) stores,
// calls heavy_fence(), then loads. heavy_fence() is
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): a full barrier on every CPU
// that runs a thread of this process, so the two sides cannot both miss each
// other's store. The fast side pays nothing; the slow side a system call
// (inter-processor interrupts to the CPUs running this process).
#pragma once

namespace weft::detail {

/// Whether heavy_fence() works here (the process registered for expedited
/// private membarrier, Linux 4.14+). Registers on the first call.
bool asymmetric_fence_available() noexcept;

/// A full barrier on every CPU running a thread of this process. Only when
/// asymmetric_fence_available().
void heavy_fence() noexcept;

}  // namespace weft::detail
