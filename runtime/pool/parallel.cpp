// The runtime side of the parallel algorithms (include/weft/parallel.hpp).
#include "weft/parallel.hpp"

#include "scheduler/worker.hpp"

namespace weft::detail {

bool should_split() noexcept {
  worker* w = worker::current();
  return w && w->queue_empty_estimate();
}

}  // namespace weft::detail
