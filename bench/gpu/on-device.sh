#!/usr/bin/env bash
# One call on a GPU machine: correctness of every attention path with validation on, the tile
# sweep, and the same-run comparison with PyTorch SDPA and ggml-vulkan. Run from the repository
# root with the loader debs (bench/gpu/fetch-device-libs.sh), the bundle (bench/gpu/make-bundle.sh)
# and optionally the peer (../shared/peer/build.sh .peer) beside it:
#
#   bench/gpu/on-device.sh STEPS...        results under ${OUT:-gpu-out}
#
# Steps (run in the order given; each has its own time limit, a failed step does not stop the
# others): info, proof, suite[=PATH] (the attention suite, on PATH where given), suite-vN (the
# suite with coopmat2 kernel variant N), framework, adaptive, plan (the pattern and router suites), tune, compare, compare-quick,
# decode (the decode shapes on the decode kernel and on coopmat2, DECODE_SHAPES as AAT_BENCH_SHAPES,
# DECODE_VARIANTS the decode kernel's variants: keys loaded ahead per step),
# sweep (bench/gpu/bound-groups-sweep.sh: adaptive against exact across SWEEP_VALUES of SWEEP_OPTION), multigpu (bench/multi_gpu.sh: 1 vs 2 GPUs, in one process and over MPI; needs .mpi-debs from
# scripts/gpu/fetch-mpi.sh). LIMIT_SUITE, LIMIT_TUNE, LIMIT_COMPARE, LIMIT_SWEEP, LIMIT_MULTIGPU (seconds)
# and AAT_TUNE_ARGS (extra tune_attention.py arguments) adjust them.
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
bundle=${AAT_GPU_BUNDLE:-.gpu-bundle}
# Only where a driver waits for a loader (the GPU machine): never overwrite this machine's libraries.
if [ -d /usr/local/nvidia ]; then source .gpu-debs/on-device.sh .gpu-debs >/dev/null 2>&1; fi
export LD_LIBRARY_PATH="$PWD/$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export AAT_PLUGIN_PATH="$PWD/$bundle/plugins" AAT_SHADER_DIR="$PWD/shaders" AAT_TEST_DATA_DIR="$PWD/tests/data"
export AAT_TEST_COOPMAT2_SPV="$PWD/$bundle/kernels/coopmat2_softmax_tile.spv"
export XDG_CACHE_HOME=/tmp/aat-cache XDG_RUNTIME_DIR=/tmp/aat-runtime
mkdir -p "$XDG_RUNTIME_DIR"
bin=$PWD/$bundle/bin
if [ -f .peer/libggml-vulkan.so.xz ] && [ ! -f .peer/libggml-vulkan.so ]; then xz -dkf .peer/libggml-vulkan.so.xz; fi

step() {  # step NAME SECONDS COMMAND...: runs, logs to $out/NAME.log, prints the tail
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  echo "=== $name: exit $rc in $((SECONDS - t0)) s"
  tail -n "${TAIL:-6}" "$out/$name.log"
}

for s in "$@"; do
  case $s in
    info)
      nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv >"$out/nvidia-smi.txt" 2>&1
      "$bin/aat" version --json >"$out/version.json" 2>&1
      step devices 60 "$bin/aat" devices --json
      cp "$out/devices.log" "$out/devices.json" ;;
    proof) AAT_VALIDATION=1 step proof 120 "$bin/aat_framework_tests" --gtest_filter='Coopmat2*' ;;
    framework) AAT_VALIDATION=1 step framework 300 "$bin/aat_framework_tests" ;;
    suite) AAT_VALIDATION=1 step suite-default "${LIMIT_SUITE:-400}" "$bin/attention_tests" ;;
    suite-v*) AAT_VALIDATION=1 AAT_ATTENTION_VARIANT=${s#suite-v} step "$s" "${LIMIT_SUITE:-400}" "$bin/attention_tests" ;;
    suite=*) AAT_VALIDATION=1 AAT_ATTENTION_PATH=${s#suite=} step "suite-${s#suite=}" "${LIMIT_SUITE:-400}" "$bin/attention_tests" ;;
    adaptive) AAT_VALIDATION=1 step adaptive 300 "$bin/adaptive_tests" ;;
    plan) AAT_VALIDATION=1 step pattern 200 "$bin/pattern_tests"; AAT_VALIDATION=1 step router 100 "$bin/router_tests" ;;
    tune) TAIL=14 step tune "${LIMIT_TUNE:-300}" python3 bench/tune_attention.py --aat-bench "$bin/bench_attention" --statistics --validate \
            --json "$out/tune.json" ${AAT_TUNE_ARGS:-} ;;
    compare|compare-quick)
      peer=()
      [ -x .peer/ggml_fa_bench ] && peer=(--ggml-bench .peer/ggml_fa_bench --ggml-mm .peer/ggml_mm_bench)
      quick=()
      [ "$s" = compare-quick ] && quick=(--quick)
      TAIL=24 step "$s" "${LIMIT_COMPARE:-480}" python3 bench/gpu_compare.py --aat-bench "$bin/bench_attention" "${peer[@]}" "${quick[@]}" \
        ${AAT_COMPARE_ARGS:-} \
        --json "$out/performance.json" --png "$out/performance.png" ;;
    decode)  # the decode shapes on the decode kernel (each of DECODE_VARIANTS) and on coopmat2, two rounds
      shapes=${DECODE_SHAPES:-2,16,1,32768,128,0;2,16,1,32768,128,0,2;2,16,1,32768,64,0;2,16,4,32768,128,0;2,16,16,32768,128,0;2,32,1,8192,128,0,4}
      for round in 1 2; do
        for v in ${DECODE_VARIANTS:-0}; do
          AAT_BENCH_PATH=decode AAT_BENCH_TILING=",,,$v" AAT_BENCH_WARMUP_MS=300 AAT_BENCH_SHAPES="$shapes" \
            TAIL=10 step "decode-decode-v$v-$round" 150 "$bin/bench_attention"
        done
        AAT_BENCH_PATH=cooperative_matrix2 AAT_BENCH_WARMUP_MS=300 AAT_BENCH_SHAPES="$shapes" \
          TAIL=10 step "decode-cooperative_matrix2-$round" 150 "$bin/bench_attention"
      done ;;
    sweep) TAIL=30 step sweep "${LIMIT_SWEEP:-500}" bash bench/gpu/bound-groups-sweep.sh "$bin" "$out" ${SWEEP_VALUES:-} ;;
    multigpu) TAIL=40 step multigpu "${LIMIT_MULTIGPU:-560}" bash bench/multi_gpu.sh ;;
    *) echo "unknown step $s" ;;
  esac
done
# What comes back is limited to a few files: the logs travel as one archive.
tar -czf "$out/logs.tgz" -C "$out" $(cd "$out" && ls *.log 2>/dev/null) 2>/dev/null && rm -f "$out"/*.log
