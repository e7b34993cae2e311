# AAT_BUILD_FUZZERS: the libFuzzer targets in fuzz/ (docs/reliability.md). Needs clang with
# libFuzzer and AAT_SANITIZE; scripts/ci-hardening.sh configures it as
#   CC=clang-16 CXX=clang++-16 cmake -S . -B build-fuzz -DAAT_BUILD_FUZZERS=ON \
#     -DAAT_SANITIZE=address,undefined -DAAT_BUILD_TESTS=OFF -DAAT_BUILD_BENCH=OFF -DAAT_BUILD_PYTHON=OFF
#   cmake --build build-fuzz --target aat_fuzzers
option(AAT_BUILD_FUZZERS "Build the libFuzzer targets in fuzz/ (clang; with AAT_SANITIZE)" OFF)

if(AAT_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "AAT_BUILD_FUZZERS needs clang (libFuzzer): configure with CXX=clang++-16 CC=clang-16")
  endif()
  if(NOT AAT_SANITIZE)
    message(FATAL_ERROR "AAT_BUILD_FUZZERS needs sanitizers: add -DAAT_SANITIZE=address,undefined")
  endif()
  # Coverage instrumentation for everything the targets reach; the targets link -fsanitize=fuzzer.
  add_compile_options(-fsanitize=fuzzer-no-link)
  # libstdc++ 12 offers <expected> only when __cpp_concepts >= 202002L. Clang 16 implements what
  # that header needs (P0848, conditionally trivial special members) but still reports 201907L;
  # clang 14 does not implement it, so the fuzz build needs clang 16 (Debian 12: clang-16).
  if(CMAKE_CXX_COMPILER_VERSION VERSION_LESS 16)
    message(FATAL_ERROR "AAT_BUILD_FUZZERS needs clang 16 or newer (clang ${CMAKE_CXX_COMPILER_VERSION} cannot "
                        "compile libstdc++'s std::expected); Debian 12: apt-get install clang-16 libclang-rt-16-dev")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-D__cpp_concepts=202002L>
                      $<$<COMPILE_LANGUAGE:CXX>:-Wno-macro-redefined>)
  # fuzz/ links the framework by target name, resolved once everything is configured.
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/../fuzz ${CMAKE_BINARY_DIR}/fuzz)
endif()
