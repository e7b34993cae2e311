# Test registration shared by the framework suite and every plugin suite.

# Every test process runs with validation on; a validation message fails the test.
set(AAT_TEST_ENVIRONMENT
  "AAT_VALIDATION=1"
  "XDG_CACHE_HOME=${CMAKE_BINARY_DIR}/test-cache"
  "XDG_RUNTIME_DIR=${CMAKE_BINARY_DIR}/test-runtime"
  "AAT_TEST_DATA_DIR=${CMAKE_SOURCE_DIR}/tests/data"
  "AAT_PLUGIN_PATH="
  CACHE INTERNAL "")
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/test-runtime)

# aat_add_gtest(NAME SOURCES ... LABELS ... LIBRARIES ...): one GoogleTest binary, one CTest entry.
function(aat_add_gtest name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LABELS;LIBRARIES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE aat_test_support GTest::gtest_main ${ARG_LIBRARIES})
  aat_set_warnings(${name})
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no)
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${AAT_TEST_ENVIRONMENT}" LABELS "${ARG_LABELS}"
                                          TIMEOUT 1200)
endfunction()
