# weft_apply_settings(<target>): the project's compiler settings, applied to
# every weft target (library, tests, benchmarks, tools) in one place.
set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)

set(_weft_sanitize_flags "")
if(WEFT_SANITIZE)
  string(REPLACE "," ";" _weft_sanitizers "${WEFT_SANITIZE}")
  foreach(_s IN LISTS _weft_sanitizers)
    if(NOT _s MATCHES "^(address|thread|undefined)$")
      message(FATAL_ERROR "WEFT_SANITIZE: unknown sanitizer '${_s}' (address, thread, undefined)")
    endif()
  endforeach()
  if("thread" IN_LIST _weft_sanitizers AND "address" IN_LIST _weft_sanitizers)
    message(FATAL_ERROR "WEFT_SANITIZE: address and thread cannot be combined")
  endif()
  list(JOIN _weft_sanitizers "," _weft_sanitize_joined)
  set(_weft_sanitize_flags -fsanitize=${_weft_sanitize_joined} -fno-omit-frame-pointer)
  if("thread" IN_LIST _weft_sanitizers AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # TSan does not model standalone fences; weft uses them only where no
    # data is published through them (cancellation.hpp says why).
    list(APPEND _weft_sanitize_flags -Wno-tsan)
  endif()
  if("undefined" IN_LIST _weft_sanitizers)
    list(APPEND _weft_sanitize_flags -fno-sanitize-recover=undefined)
  endif()
endif()

function(weft_apply_settings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor
                                           -Wno-missing-field-initializers)
  if(WEFT_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(_weft_sanitize_flags)
    target_compile_options(${target} PRIVATE ${_weft_sanitize_flags})
    target_link_options(${target} PRIVATE ${_weft_sanitize_flags})
  endif()
  if(WEFT_DEBUG_CHECKS)
    target_compile_definitions(${target} PRIVATE WEFT_DEBUG_CHECKS=1)
  endif()
endfunction()

# weft_enable_lto(<target>): link-time optimization in Release builds.
# Fiber switches cross the library boundary on every yield, park and wake
# (this_fiber::yield, channel_send, ...); LTO inlines them into the caller
# and removes call levels whose returns the CPU mispredicts after a stack
# switch (measured: yield 43 -> 25 ns, pingpong 243 -> 131 ns). The library's
# objects are "fat" (GCC), so programs linked without LTO still link.
include(CheckIPOSupported)
check_ipo_supported(RESULT _weft_ipo_supported LANGUAGES CXX)
function(weft_enable_lto target)
  if(WEFT_LTO AND _weft_ipo_supported AND NOT WEFT_SANITIZE)
    set_property(TARGET ${target} PROPERTY INTERPROCEDURAL_OPTIMIZATION_RELEASE ON)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE $<$<CONFIG:Release>:-ffat-lto-objects>)
    endif()
  endif()
endfunction()

# weft_unity_without_lto(<target> <sources>...): where LTO is not in effect
# (WEFT_LTO off, as in a user's add_subdirectory build, or a sanitizer
# build), compiles <sources> as one unity translation unit, so the calls
# between them inline as LTO would inline them (docs/design.md, "Builds").
# The sanitizer presets build this way (RelWithDebInfo), so the ASan and
# TSan suites run on the unit; a multi-config generator gets it as well.
function(weft_unity_without_lto target)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" build_type)
  if(WEFT_LTO AND _weft_ipo_supported AND NOT WEFT_SANITIZE AND build_type STREQUAL "RELEASE")
    return()
  endif()
  set_source_files_properties(${ARGN} TARGET_DIRECTORY ${target} PROPERTIES UNITY_GROUP hot_path)
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_MODE GROUP)
endfunction()
