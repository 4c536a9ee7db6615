# Registers tests/weft_load_test.cpp; included from tests/CMakeLists.txt.
# The test links weft_load_core, so it runs in every configuration,
# sanitized ones included (where the presets turn WEFT_BUILD_TOOLS off);
# when the tool is built too, the test also runs the weft-load binary.
include(${CMAKE_CURRENT_LIST_DIR}/core.cmake)

weft_add_test(weft_load_test weft_load_test.cpp)
target_link_libraries(weft_load_test PRIVATE weft_load_core)
if(WEFT_BUILD_TOOLS)
  # The target is defined later, by tools/CMakeLists.txt: both the
  # dependency and the generator expression resolve at generation time.
  add_dependencies(weft_load_test weft-load)
  target_compile_definitions(weft_load_test PRIVATE WEFT_LOAD_EXE="$<TARGET_FILE:weft-load>")
endif()
