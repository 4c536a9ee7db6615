# weft_load_core: everything of weft-load but main(), as a static library
# linked by the tool (tools/CMakeLists.txt) and by its test
# (tests/weft_load_*_test.cpp, registered by tests.cmake). Included from
# either directory, whichever comes first; the guard makes it one target.
# Debian's libraries do the generic work: http-parser (libhttp-parser-dev)
# frames responses, CLI11 (libcli11-dev) parses the command line,
# nlohmann-json (nlohmann-json3-dev) reads and writes the JSON report,
# OpenSSL (libssl-dev) speaks TLS.
include_guard(GLOBAL)

find_package(CLI11 2 CONFIG REQUIRED)
find_package(OpenSSL 1.1.1 REQUIRED)
find_package(nlohmann_json 3 CONFIG REQUIRED)
find_path(WEFT_HTTP_PARSER_INCLUDE_DIR http_parser.h)
find_library(WEFT_HTTP_PARSER_LIBRARY http_parser)
if(NOT WEFT_HTTP_PARSER_INCLUDE_DIR OR NOT WEFT_HTTP_PARSER_LIBRARY)
  message(FATAL_ERROR "weft-load needs http-parser: apt-get install libhttp-parser-dev")
endif()

set(_weft_load_dir ${CMAKE_CURRENT_LIST_DIR})
add_library(weft_load_core STATIC
  ${_weft_load_dir}/cli.cpp
  ${_weft_load_dir}/duration.cpp
  ${_weft_load_dir}/histogram.cpp
  ${_weft_load_dir}/html_report.cpp
  ${_weft_load_dir}/http_client.cpp
  ${_weft_load_dir}/http_connection.cpp
  ${_weft_load_dir}/interrupt.cpp
  ${_weft_load_dir}/load.cpp
  ${_weft_load_dir}/options.cpp
  ${_weft_load_dir}/recorder.cpp
  ${_weft_load_dir}/report.cpp
  ${_weft_load_dir}/scenario.cpp
  ${_weft_load_dir}/server.cpp
  ${_weft_load_dir}/stages.cpp
  ${_weft_load_dir}/targets_file.cpp
  ${_weft_load_dir}/threshold.cpp
  ${_weft_load_dir}/timeline.cpp
  ${_weft_load_dir}/tls.cpp
  ${_weft_load_dir}/transport.cpp
  ${_weft_load_dir}/url.cpp
)
weft_apply_settings(weft_load_core)
target_include_directories(weft_load_core PUBLIC ${_weft_load_dir})
target_include_directories(weft_load_core SYSTEM PRIVATE ${WEFT_HTTP_PARSER_INCLUDE_DIR})
target_link_libraries(weft_load_core PUBLIC weft::weft nlohmann_json::nlohmann_json
                      PRIVATE CLI11::CLI11 OpenSSL::SSL ${WEFT_HTTP_PARSER_LIBRARY})
