#!/usr/bin/env bash
# End-to-end test of `aat run adaptive-attention --devices LIST`: the test device opened twice
# ("0,0", what CI's lavapipe offers) gives the single-device output (within 1e-5 + 1e-5 |x|),
# divided by heads and (causal) by query tiles; options that need one device are refused.
# Usage: test_cli_adaptive_devices.sh AAT_BINARY SOURCE_DIR
# Exits 77 (CTest SKIP_RETURN_CODE) when /usr/bin/python3 or numpy is missing.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../../../tests/cli/lib.sh"
cli_start cli_adaptive_devices "$@"

"$PY" - <<'EOF2'
import numpy as np
rng = np.random.default_rng(8)
# Keys drawn towards a few directions, so the map pools and skips some blocks.
def qkv(prefix, heads, kv_heads, n, d=32):
    centers = rng.standard_normal((4, d)) * 3
    q = rng.standard_normal((1, heads, n, d)) + centers[rng.integers(0, 4, (1, heads, n))]
    k = rng.standard_normal((1, kv_heads, n, d)) + centers[rng.integers(0, 4, (1, kv_heads, n))]
    np.save(prefix + "q.npy", q.astype(np.float32))
    np.save(prefix + "k.npy", k.astype(np.float32))
    np.save(prefix + "v.npy", rng.standard_normal((1, kv_heads, n, d)).astype(np.float32))
qkv("a_", 4, 2, 384)
qkv("b_", 1, 1, 512)
EOF2

same() {  # NAME PREFIX SPLIT ARGS...
  local name=$1 p=$2 split=$3
  shift 3
  expect_ok "$name: one device" "$AAT" run adaptive-attention --q ${p}q.npy --k ${p}k.npy --v ${p}v.npy \
    --out ${p}one.npy --lse ${p}one_l.npy "$@" || return 0
  expect_ok "$name: --devices 0,0" "$AAT" run adaptive-attention --q ${p}q.npy --k ${p}k.npy --v ${p}v.npy \
    --out ${p}o.npy --lse ${p}l.npy --devices 0,0 --json "$@" || return 0
  check "$name: same as one device, divided by $split" "
import json
import numpy as np
r = json.load(open('out.txt'))
assert r['split'] == '$split', r
o, w = np.load('${p}o.npy'), np.load('${p}one.npy')
l, wl = np.load('${p}l.npy'), np.load('${p}one_l.npy')
err = np.abs(o.astype(np.float64) - w)
assert np.all(err <= 1e-5 + 1e-5 * np.abs(w)), f'O max |diff| {err.max():.3g}'
assert np.allclose(l, wl, rtol=1e-5, atol=1e-5), 'L differs'
print(f'O max |diff| {err.max():.3g}, CER {r[\"cer\"]:.2f}')
"
}

same "GQA, causal" a_ heads --causal
same "one head, causal" b_ queries --causal
expect_error "--report needs one device" "--report and --map run on one device only" "$AAT" run adaptive-attention \
  --q a_q.npy --k a_k.npy --v a_v.npy --out e.npy --devices 0,0 --report

cli_finish
