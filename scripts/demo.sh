#!/usr/bin/env bash
# Sets up (packages, configure, build) and runs the main job on the default device:
# lists the devices, then runs a kernel end to end on it.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

scripts/install-deps.sh
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" --parallel "$(nproc)"

aat="$build/bin/aat"
echo "== aat devices"
"$aat" devices
echo "== aat reflect examples/shaders/saxpy.comp"
"$aat" reflect examples/shaders/saxpy.comp
