# Registers the weft-load tests (tests/weft_load_*_test.cpp); included from
# tests/CMakeLists.txt. They link weft_load_core, so they run in every
# configuration, sanitized ones included (where the presets turn
# WEFT_BUILD_TOOLS off); when the tool is built too, the run and cancel tests
# also run the weft-load binary.
include(${CMAKE_CURRENT_LIST_DIR}/core.cmake)

foreach(part cancel html parse report run scenario stages targets timeline tls)
  weft_add_test(weft_load_${part}_test weft_load_${part}_test.cpp)
  target_link_libraries(weft_load_${part}_test PRIVATE weft_load_core)
endforeach()
# The TLS test makes its certificates with OpenSSL's API; the HTML test
# inflates the browser's screenshot with zlib.
target_link_libraries(weft_load_tls_test PRIVATE OpenSSL::Crypto)
find_package(ZLIB REQUIRED)
target_link_libraries(weft_load_html_test PRIVATE ZLIB::ZLIB)
if(WEFT_BUILD_TOOLS)
  # The target is defined later, by tools/CMakeLists.txt: both the
  # dependency and the generator expression resolve at generation time.
  foreach(part cancel run)
    add_dependencies(weft_load_${part}_test weft-load)
    target_compile_definitions(weft_load_${part}_test PRIVATE
                               WEFT_LOAD_EXE="$<TARGET_FILE:weft-load>")
  endforeach()
endif()
