# AAT_SANITIZE: build every target with sanitizers (docs/reliability.md), e.g.
#   cmake -S . -B build-asan -DAAT_SANITIZE=address,undefined -DAAT_BUILD_BENCH=OFF -DAAT_BUILD_PYTHON=OFF
# (scripts/ci-hardening.sh does exactly that and runs the test suite in it). Any report fails:
# UBSan does not recover, and tests run with the options and driver-only suppressions below.
set(AAT_SANITIZE "" CACHE STRING "Sanitizers for every target, e.g. address,undefined (empty: none)")

set(AAT_SANITIZER_DIR ${CMAKE_CURRENT_LIST_DIR}/../tests/sanitizers)
cmake_path(NORMAL_PATH AAT_SANITIZER_DIR)
# Runtime options for the tests. Reports also go to files under <build>/sanitizer-reports
# (log_path), so one from a child process whose exit status a test does not check (a CLI run
# expected to fail) is still found: scripts/ci-hardening.sh fails when any file is there.
set(AAT_SANITIZER_REPORT_DIR ${CMAKE_BINARY_DIR}/sanitizer-reports)
set(AAT_ASAN_OPTIONS "detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:strict_init_order=1:log_path=${AAT_SANITIZER_REPORT_DIR}/asan")
set(AAT_LSAN_OPTIONS "suppressions=${AAT_SANITIZER_DIR}/lsan.supp:print_suppressions=0")
set(AAT_UBSAN_OPTIONS "print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=${AAT_SANITIZER_REPORT_DIR}/ubsan")

if(AAT_SANITIZE)
  add_compile_options(-fsanitize=${AAT_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${AAT_SANITIZE})
  if(DEFINED AAT_TEST_ENVIRONMENT)
    set(AAT_TEST_ENVIRONMENT ${AAT_TEST_ENVIRONMENT}
        "ASAN_OPTIONS=${AAT_ASAN_OPTIONS}" "LSAN_OPTIONS=${AAT_LSAN_OPTIONS}" "UBSAN_OPTIONS=${AAT_UBSAN_OPTIONS}"
        CACHE INTERNAL "")
  endif()
  # Keeps the Vulkan driver and layers loaded until exit, so LeakSanitizer sees their globals
  # (tests/sanitizers/keep_vulkan_drivers_loaded.cpp says why). Every target made after this
  # links it, so every executable lists it right after the sanitizer runtime, ahead of libc,
  # where the runtime's own dlclose interceptor finds it.
  add_library(aat_keep_vulkan_drivers_loaded SHARED ${AAT_SANITIZER_DIR}/keep_vulkan_drivers_loaded.cpp)
  link_libraries("-Wl,--push-state,--no-as-needed" "$<BUILD_INTERFACE:aat_keep_vulkan_drivers_loaded>" "-Wl,--pop-state")
  file(MAKE_DIRECTORY ${AAT_SANITIZER_REPORT_DIR})
  message(STATUS "Sanitizers: ${AAT_SANITIZE}; reports: ${AAT_SANITIZER_REPORT_DIR}; suppressions: ${AAT_SANITIZER_DIR}")
endif()
