// weft: an M:N work-stealing fiber scheduler. Includes the whole public API.
#pragma once

#include "weft/fiber_id.hpp"
#include "weft/join_handle.hpp"
#include "weft/options.hpp"
#include "weft/runtime.hpp"
#include "weft/this_fiber.hpp"
