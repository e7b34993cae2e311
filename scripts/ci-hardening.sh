#!/usr/bin/env bash
# The hardening checks of docs/reliability.md; .ci/run calls this after scripts/test.sh.
#   1. Sanitizers: everything but the bench and the Python module built with
#      AddressSanitizer + UndefinedBehaviorSanitizer (g++, -DAAT_SANITIZE=address,undefined),
#      then every test suite on lavapipe with the validation layer on. Any sanitizer report
#      (LeakSanitizer's included), failed test, validation message or Vulkan object alive at
#      context teardown fails the step.
#   2. Fuzzing: the five libFuzzer targets of fuzz/ (clang 16), seeded from the tests, each for
#      AAT_FUZZ_SECONDS (60); any crash, sanitizer report, leak or broken property fails.
# Environment: AAT_FUZZ_SECONDS (default 60); AAT_FUZZ_SEED (default 1: CI replays one seed, so
# its verdict depends on the code, not on luck; 0 picks a random seed, for exploring);
# AAT_HARDENING_STEPS ("sanitizers fuzz", either or both); ASAN_BUILD_DIR (build-asan);
# FUZZ_BUILD_DIR (build-fuzz). Exit code: 0 when all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
asan_build=${ASAN_BUILD_DIR:-build-asan}
fuzz_build=${FUZZ_BUILD_DIR:-build-fuzz}
fuzz_seconds=${AAT_FUZZ_SECONDS:-60}
fuzz_seed=${AAT_FUZZ_SEED:-1}
steps=${AAT_HARDENING_STEPS:-sanitizers fuzz}
jobs=$(nproc)

scripts/install-deps.sh --hardening
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
status=0
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started ))s"; }

if [[ " $steps " == *" sanitizers "* ]]; then
  echo "== hardening: sanitizer build ($asan_build) [$(elapsed)]"
  # -O1 -g1: quicker to compile than the default -O2 -g on CI's two cores, line numbers in every
  # report, and no NDEBUG, so assertions are checked too.
  cmake -S . -B "$asan_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DAAT_WERROR=ON \
    -DAAT_SANITIZE=address,undefined -DAAT_BUILD_BENCH=OFF -DAAT_BUILD_PYTHON=OFF
  cmake --build "$asan_build" --parallel "$jobs"
  reports="$asan_build/sanitizer-reports"
  rm -rf "$reports" && mkdir -p "$reports"
  echo "== hardening: test suites under ASan+UBSan [$(elapsed)]"
  # install_consumers builds example hosts against the installed (instrumented) libraries
  # without sanitizer flags, which ASan cannot load; it checks packaging, not memory safety.
  # new_plugin builds a second copy of the tree; it checks the build, not memory safety.
  if ! ctest --test-dir "$asan_build" --output-on-failure --parallel "$jobs" -E '^(install_consumers|new_plugin)$'; then
    echo "hardening: a test failed under the sanitizers" >&2
    status=1
  fi
  # Reports from processes whose exit status no test checks (log_path, cmake/AatSanitizers.cmake).
  if compgen -G "$reports/*" >/dev/null; then
    for report in "$reports"/*; do
      echo "---- sanitizer report $report"
      cat "$report"
    done
    echo "hardening: sanitizer reports found (above)" >&2
    status=1
  else
    echo "hardening: no sanitizer reports"
  fi
fi

if [[ " $steps " == *" fuzz "* ]]; then
  echo "== hardening: fuzz build ($fuzz_build, clang 16) [$(elapsed)]"
  CC=clang-16 CXX=clang++-16 cmake -S . -B "$fuzz_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DAAT_BUILD_FUZZERS=ON -DAAT_SANITIZE=address,undefined \
    -DAAT_BUILD_TESTS=OFF -DAAT_BUILD_BENCH=OFF -DAAT_BUILD_PYTHON=OFF
  cmake --build "$fuzz_build" --parallel "$jobs" --target aat_fuzzers
  corpus="$fuzz_build/corpus"
  findings="$fuzz_build/findings"
  rm -rf "$corpus" "$findings" && mkdir -p "$findings"
  fuzz/make_corpus.sh "$corpus"
  summary="$fuzz_build/fuzz-summary.txt"
  printf '%-18s %10s %8s %8s %10s %s\n' target executions exec/s corpus coverage result > "$summary"
  symbolizer=$(command -v llvm-symbolizer-16 || command -v llvm-symbolizer || true)
  for target in npy spirv glsl value plugin_descriptor; do
    echo "== hardening: fuzz_$target for ${fuzz_seconds}s [$(elapsed)]"
    # Inputs that crashed before are part of the seeds: a regression must fail at once.
    cp -n tests/data/fuzz/"$target"/* "$corpus/$target/" 2>/dev/null || true
    log="$findings/$target.log"
    rc=0
    # -close_fd_mask=1: glslang prints to stdout; reports go to stderr, kept in the log.
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1" \
    LSAN_OPTIONS="suppressions=$src/tests/sanitizers/lsan.supp" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1" \
    ASAN_SYMBOLIZER_PATH="$symbolizer" \
      "$fuzz_build/fuzz/bin/fuzz_$target" -max_total_time="$fuzz_seconds" -seed="$fuzz_seed" -timeout=30 -rss_limit_mb=3072 \
        -max_len=65536 -close_fd_mask=1 -print_final_stats=1 -artifact_prefix="$findings/$target-" \
        "$corpus/$target" >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    units=$(ls "$corpus/$target" | wc -l)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    result=ok
    if [[ $rc -ne 0 ]]; then
      result="FAILED (exit $rc)"
      status=1
      echo "---- fuzz_$target failed; the input is saved as $findings/$target-*; its log:" >&2
      grep -v '^#[0-9]' "$log" | tail -80 >&2
    fi
    printf '%-18s %10s %8s %8s %10s %s\n' "$target" "${runs:-?}" "${rate:-?}" "$units" "${cov:-?}" "$result" \
      | tee -a "$summary"
  done
  echo "== hardening: fuzz summary ($summary)"
  cat "$summary"
fi

echo "== hardening: done in $(elapsed), $([[ $status -eq 0 ]] && echo passed || echo FAILED)"
exit "$status"
