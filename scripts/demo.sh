#!/usr/bin/env bash
# Sets up (packages, configure, build) and runs the main job on the default device (the best
# GPU, else lavapipe on the CPU): adaptive and exact attention on a long structured input, AAT's
# IFQ / CER / AE report beside the same quantities from NumPy, and a picture of the plan
# (scripts/demo_job.sh). About two minutes on lavapipe with 2 cores, after the build.
#   DEMO_LENGTH=16384 scripts/demo.sh                       a longer input
#   PLAN_PNG=docs/images/adaptive_plan.png scripts/demo.sh  also copy the picture there
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

scripts/install-deps.sh
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" --parallel "$(nproc)"

aat="$PWD/$build/bin/aat"
out="$PWD/$build/demo"

echo "== aat devices"
"$aat" devices

scripts/demo_job.sh "$aat" "$out" "${DEMO_LENGTH:-8192}"
if [[ -n ${PLAN_PNG:-} ]]; then
  cp "$out/adaptive_plan.png" "$PLAN_PNG"
  echo "   copied to $PLAN_PNG"
fi

echo "== aat plugins --brief"
"$aat" plugins --brief
