#!/usr/bin/env bash
# End-to-end test of `aat run attention-inputs` and `aat run pattern`: synthetic .npy inputs,
# the block map and densities checked with NumPy (shapes, dtypes, masks, mass kept, the JSON).
# Usage: test_cli_pattern.sh AAT_BINARY SOURCE_DIR
# Exits 77 (CTest SKIP_RETURN_CODE) when /usr/bin/python3 or numpy is missing.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../../../tests/cli/lib.sh"
cli_start cli_pattern "$@"

# 1. Synthetic inputs: shapes, dtypes, the sink and retrieval coordinates.
expect_ok "attention-inputs structured" "$AAT" run attention-inputs --kind structured --length 512 --heads 2 --prefix s_
expect_ok "attention-inputs gaussian f16" "$AAT" run attention-inputs --kind gaussian --length 300 --dtype f16 --prefix g_
check "inputs have the documented layout" '
import numpy as np
q, k, v = (np.load(f"s_{n}.npy") for n in "qkv")
assert q.shape == k.shape == v.shape == (1, 2, 512, 64) and q.dtype == np.float32, (q.shape, q.dtype)
assert np.all(k[..., 4:, 0] == 0) and np.all(k[..., :4, 0] > 0), "sinks: the first 4 keys carry dim 0"
assert np.all(q[..., 0] == k[0, 0, 0, 0]), "every query carries the sink coordinate"
g = np.load("g_q.npy")
assert g.dtype == np.float16 and g.shape == (1, 1, 300, 64)
assert abs(float(g.astype(np.float64).std()) - 1) < 0.1
'

# 2. The map of the causal structured input: u8 levels, f32 densities, masks, mass, JSON.
if expect_ok "pattern --causal --json" "$AAT" run pattern --q s_q.npy --k s_k.npy --causal --mass 0.9 \
    --map map.npy --density density.npy --json; then
  cp out.txt report.json
  check "map: shape, masked blocks, forced blocks, densities, mass kept" '
import json
import numpy as np
m, d = np.load("map.npy"), np.load("density.npy")
assert m.dtype == np.uint8 and m.shape == (1, 2, 16, 8), (m.dtype, m.shape)
assert d.dtype == np.float32 and d.shape == m.shape
rows, cols = np.meshgrid(np.arange(16), np.arange(8), indexing="ij")
masked = cols * 64 > rows * 32 + 31          # causal: key tile starts after the tile last row
assert np.all(m[..., masked] == 4) and np.all(d[..., masked] == 0), "masked blocks"
assert np.all(m[..., ~masked] < 4)
assert np.all(m[..., :, 0] == 0), "the first key tile is always full"
diag = (rows * 32) // 64
assert np.all(np.take_along_axis(m, np.broadcast_to(diag[:, :1], (1, 2, 16, 1)), 3) == 0), "diagonal full"
assert np.allclose(d.sum(-1), 1, atol=1e-5), "densities of each row tile sum to 1"
kept = np.where(m == 0, d, 0).sum(-1)
assert np.all(kept >= 0.9 - 1e-5), kept.min()
r = json.load(open("report.json"))
for key in ("dense_flops", "predicted_flops", "cer", "levels", "gpu_ms", "device"):
    assert key in r, key
assert 0 < r["predicted_flops"] < r["dense_flops"] and r["cer"] > 1, r
assert abs(sum(r["levels"].values()) - 1) < 1e-9, r["levels"]
'
fi

# 3. mass 1: every visible block full; the tile estimator (the issue formula) also runs.
expect_ok "pattern --mass 1" "$AAT" run pattern --q s_q.npy --k s_k.npy --causal --mass 1 --map full.npy
expect_ok "pattern --estimator tile --no-variance" "$AAT" run pattern --q g_q.npy --k g_k.npy --estimator tile \
  --no-variance --mode mass --block-q 16 --block-k 32 --map tile.npy
check "mass 1 keeps every visible block; the tile map has its shape" '
import numpy as np
m = np.load("full.npy")
assert set(np.unique(m)) <= {0, 4} and (m == 0).sum() == 2 * sum(min(8, (i * 32 + 31) // 64 + 1) for i in range(16))
t = np.load("tile.npy")
assert t.shape == (1, 1, 19, 10) and t.max() < 4
'

# 4. The bound rule (the default): upper shares, skipped blocks, the JSON; epsilon 0 is exact.
if expect_ok "pattern --epsilon 0.05 --json" "$AAT" run pattern --q s_q.npy --k s_k.npy --causal --epsilon 0.05 \
    --map bound.npy --density upper.npy --json; then
  cp out.txt bound.json
  check "bound rule: levels, upper shares, the JSON" '
import json
import numpy as np
m, u, full = np.load("bound.npy"), np.load("upper.npy"), np.load("full.npy")
assert m.shape == full.shape and np.all((m == 4) == (full == 4)), "the same masked blocks"
assert np.all(m[..., :, 0] == 0) and (m == 3).sum() > 0, "sinks full, something skipped"
assert np.all(u[m == 4] == 0) and np.all(u[m < 4] > 0)
r = json.load(open("bound.json"))
assert r["mode"] == "bound" and r["epsilon"] == 0.05 and "mass" not in r, r
'
fi
expect_ok "pattern --epsilon 0" "$AAT" run pattern --q s_q.npy --k s_k.npy --causal --epsilon 0 --map exact.npy
check "epsilon 0 keeps every visible block full" '
import numpy as np
assert np.array_equal(np.load("exact.npy"), np.load("full.npy"))
'

# 5. Errors.
rc=0; "$AAT" run pattern --q s_q.npy --k s_k.npy --epsilon 2 --map e.npy >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "epsilon = 2" err.txt && pass "epsilon above 1 is an error naming it" \
  || fail "epsilon 2: rc $rc, $(cat err.txt)"
rc=0; "$AAT" run pattern --q s_q.npy --k s_k.npy --mass 0.9 --epsilon 0.1 --map e.npy >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "mass rule takes --mass" err.txt && pass "--epsilon with the mass rule is an error" \
  || fail "--mass with --epsilon: rc $rc, $(cat err.txt)"
rc=0; "$AAT" run pattern --q s_q.npy --k s_k.npy --mode bound --mass 0.9 --map e.npy >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "bound rule takes --epsilon" err.txt && pass "--mass with the bound rule is an error" \
  || fail "--mode bound --mass: rc $rc, $(cat err.txt)"
"$PY" -c 'import numpy as np; np.save("bad_k.npy", np.zeros((1, 2, 512, 32), np.float32))'
rc=0; "$AAT" run pattern --q s_q.npy --k bad_k.npy --map e.npy >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "1x2x512x32" err.txt && pass "head dim mismatch is an error naming the shape" \
  || fail "head dim mismatch: rc $rc, $(cat err.txt)"
rc=0; "$AAT" run pattern --q s_q.npy --k s_k.npy --block-k 30 --map e.npy >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "block_k" err.txt && pass "bad block-k is an error" || fail "block-k 30: rc $rc, $(cat err.txt)"
# --moments tensor-cores: the same map where the device has cooperative matrices (the GPU suite
# compares the two kernels with the reference), else an error naming what is missing.
rc=0; "$AAT" run pattern --q s_q.npy --k s_k.npy --causal --moments tensor-cores --map t.npy >out.txt 2>err.txt || rc=$?
if [[ $rc -eq 0 ]]; then
  expect_ok "pattern --moments invocations" "$AAT" run pattern --q s_q.npy --k s_k.npy --causal --moments invocations \
    --map i.npy
  check "the tensor-core and invocation kernels give the same map here" '
import numpy as np
assert (np.load("t.npy") == np.load("i.npy")).mean() > 0.99'
elif [[ $rc -eq 1 ]] && grep -q "tensor-core map kernel" err.txt; then
  pass "--moments tensor-cores where the device cannot is an error naming why"
else
  fail "--moments tensor-cores: rc $rc, $(cat err.txt)"
fi
[[ ! -e e.npy ]] && pass "no map written on error" || fail "a map was written despite the error"

cli_finish
