#!/usr/bin/env bash
# Sets up (packages, configure, build) and runs every test suite. Exit code = test result.
#   scripts/test.sh            warnings as errors, build folder ./build
#   BUILD_DIR=out scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

scripts/install-deps.sh
# XDG_RUNTIME_DIR keeps the Vulkan loader and vulkaninfo quiet on headless machines.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
# AAT_REQUIRE_MPI: CI builds and tests the distributed plugin; a missing MPI is an error here.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAAT_WERROR=ON -DAAT_REQUIRE_MPI=ON
cmake --build "$build" --parallel "$(nproc)"
ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)"
