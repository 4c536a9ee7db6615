# weft_load_core: everything of weft-load but main(), as a static library
# linked by the tool (tools/CMakeLists.txt) and by its test
# (tests/weft_load_test.cpp, registered by tests.cmake). Included from
# either directory, whichever comes first; the guard makes it one target.
include_guard(GLOBAL)

set(_weft_load_dir ${CMAKE_CURRENT_LIST_DIR})
add_library(weft_load_core STATIC
  ${_weft_load_dir}/cli.cpp
  ${_weft_load_dir}/duration.cpp
  ${_weft_load_dir}/histogram.cpp
  ${_weft_load_dir}/http_client.cpp
  ${_weft_load_dir}/json.cpp
  ${_weft_load_dir}/load.cpp
  ${_weft_load_dir}/options.cpp
  ${_weft_load_dir}/recorder.cpp
  ${_weft_load_dir}/report.cpp
  ${_weft_load_dir}/server.cpp
  ${_weft_load_dir}/threshold.cpp
  ${_weft_load_dir}/url.cpp
)
weft_apply_settings(weft_load_core)
target_include_directories(weft_load_core PUBLIC ${_weft_load_dir})
target_link_libraries(weft_load_core PUBLIC weft::weft)
