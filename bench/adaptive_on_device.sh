#!/usr/bin/env bash
# On the accelerator machine (the device tool's `run`): adaptive attention's suites and bench,
# results to $OUT. The bundle (default build-adaptive-gpu/, ignored by git) holds, built here:
# bin/{bench_adaptive,aat,pattern_tests,router_tests,adaptive_tests}, lib/libaat.so.0 and
# plugins/libaat-{attention,pattern,router,adaptive}.so; .gpu-debs/ the loader and fmt/benchmark
# debs. Carry both; e.g.
#   BENCH_ARGS="--sizes=8192,16384,32768 --heads=8 --reps=5" bash bench/adaptive_on_device.sh
set -uo pipefail
here=${BUNDLE:-build-adaptive-gpu}; here=$(cd "$here" && pwd)
for f in .gpu-debs/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export LD_LIBRARY_PATH=$here/lib:${LD_LIBRARY_PATH:-}
export AAT_PLUGIN_PATH=$here/plugins XDG_CACHE_HOME=/tmp/aatcache XDG_RUNTIME_DIR=/tmp
mkdir -p /tmp/aatcache
"$here/bin/aat" devices | tee "$OUT/devices.txt"
if [[ ${SUITES:-1} == 1 ]]; then
  for t in pattern_tests router_tests adaptive_tests; do
    AAT_VALIDATION=1 timeout 300 "$here/bin/$t" --gtest_color=no > "$OUT/$t.log" 2>&1; echo "$t rc=$?"; tail -3 "$OUT/$t.log"
  done
fi
cd /tmp
timeout ${BENCH_TIMEOUT:-400} "$here/bin/bench_adaptive" ${BENCH_ARGS:-} --json="$OUT/adaptive_${BENCH_NAME:-gpu}.json" 2>&1 | tee "$OUT/bench_${BENCH_NAME:-gpu}.log" | grep -E "Adaptive/|result"
