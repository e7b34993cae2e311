#!/usr/bin/env bash
# Packs what a GPU machine needs to test and time this build into DIR (default .gpu-bundle):
# stripped binaries (aat, bench_attention, bench_adaptive, bench_multi_gpu, the framework and attention test
# suites), libaat and the plugins, and the coopmat2 proof kernel. bench/gpu/on-device.sh runs
# from the repository root with DIR beside it.   bench/gpu/make-bundle.sh [BUILD] [DIR]
set -euo pipefail
build=${1:-build}
dir=${2:-.gpu-bundle}
rm -rf "$dir"
mkdir -p "$dir"/{bin,lib,plugins,kernels}
for b in bin/aat bin/bench_attention bin/bench_adaptive bin/bench_multi_gpu tests/aat_framework_tests plugins/attention/attention_tests \
         plugins/adaptive/adaptive_tests plugins/pattern/pattern_tests plugins/router/router_tests; do
  [ -f "$build/$b" ] && strip -o "$dir/bin/$(basename "$b")" "$build/$b"
done
cp -P "$build"/framework/libaat.so* "$dir/lib/"
# Google Benchmark's shared library (bench_attention, bench_adaptive): not on the GPU machine.
cp -L /usr/lib/x86_64-linux-gnu/libbenchmark.so.1debian "$dir/lib/" 2>/dev/null || true
strip "$dir/lib/libaat.so."*.*.*
for p in "$build"/plugins/libaat-*.so; do strip -o "$dir/plugins/$(basename "$p")" "$p"; done
[ -f "$build/tests/coopmat2_softmax_tile.spv" ] && cp "$build/tests/coopmat2_softmax_tile.spv" "$dir/kernels/"
# Ignored by git (also in a worktree, where .git is a file).
exclude=$(git rev-parse --git-path info/exclude)
grep -qx "/$dir/" "$exclude" 2>/dev/null || echo "/$dir/" >>"$exclude"
du -sh "$dir"
