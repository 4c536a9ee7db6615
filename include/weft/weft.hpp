// weft: an M:N work-stealing fiber scheduler. Includes the whole public API.
#pragma once

#include "weft/barrier.hpp"
#include "weft/channel.hpp"
#include "weft/condition_variable.hpp"
#include "weft/fiber_id.hpp"
#include "weft/join_handle.hpp"
#include "weft/latch.hpp"
#include "weft/mutex.hpp"
#include "weft/options.hpp"
#include "weft/runtime.hpp"
#include "weft/select.hpp"
#include "weft/semaphore.hpp"
#include "weft/shared_mutex.hpp"
#include "weft/this_fiber.hpp"
#include "weft/wait_group.hpp"
