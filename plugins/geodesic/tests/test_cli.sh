#!/usr/bin/env bash
# End-to-end test of `aat run geodesic`: numpy makes the inputs and checks the outputs.
# Usage: test_cli.sh AAT_BINARY
# /usr/bin/python3 is the interpreter that has numpy.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../../../tests/cli/lib.sh"
cli_start geodesic_cli "$@"

"$PY" - <<'PYEOF'
import numpy as np
# The hyperbolic half-plane phi = -ln y on [-2, 2] x [0.25, 2.25], 257 rows (hy = 1/128).
ys = np.linspace(0.25, 2.25, 257)
np.save("half_plane.npy", np.repeat(-np.log(ys)[:, None], 65, axis=1).astype(np.float32))
np.save("states.npy", np.array([[-0.5, 1.0, 2.0, 1.0], [0.3, 1.2, -2.4, 0.6], [0.0, 0.5, 0.0, -1.0]], np.float32))
np.save("flat.npy", np.zeros((8, 8), np.float32))
np.save("phi3d.npy", np.zeros((4, 4, 2), np.float32))
bad = np.zeros((8, 8), np.float32); bad[2, 5] = np.nan
np.save("nan.npy", bad)
np.save("states_i32.npy", np.zeros((2, 4), np.int32))
PYEOF

# 1. Half-plane geodesics: on their semicircles, length = hyperbolic speed * t; the third path
#    runs straight down into y = 0.25 and stops there (status 1) after length ln(0.5 / 0.25).
if expect_ok "half-plane --json" "$AAT" run geodesic --phi half_plane.npy --extent -2,0.25,2,2.25 \
    --states states.npy --steps 128 --dt 0.0078125 --out out.npy --json; then
  "$PY" - <<'PYEOF' && pass "half-plane output matches the analytic geodesics" || fail "half-plane output wrong"
import json, numpy as np
r = json.load(open("out.txt"))
assert r["kernel"] == "geodesic" and r["geodesics"] == 3 and r["steps"] == 128, r
assert r["grid"] == [257, 65] and r["left_domain"] == 1 and r["gpu_ms"] >= 0, r
raw = np.load("out.npy")
assert raw.shape == (3, 6) and raw.dtype == np.float32, raw.shape
out = raw.astype(np.float64)
s = np.load("states.npy").astype(np.float64)
h2 = (2.0 / 256) ** 2
for m in range(2):
    x, y, vx, vy = s[m]
    c = x + y * vy / vx
    R = np.hypot(x - c, y)
    assert abs(np.hypot(out[m, 0] - c, out[m, 1]) - R) / R < 2 * h2, (m, out[m])
    L = np.hypot(vx, vy) / y * 1.0
    assert abs(out[m, 4] - L) / L < 0.5 * h2 + 1e-6, (m, out[m, 4], L)
    assert out[m, 5] == 0
assert out[2, 5] == 1 and abs(out[2, 1] - 0.25) < 1e-6 and abs(out[2, 0]) < 1e-6, out[2]
assert abs(out[2, 4] - np.log(2.0)) < 1e-4, out[2, 4]
PYEOF
fi

# 2. Plain output: one summary line.
if expect_ok "flat metric, summary line" "$AAT" run geodesic --phi flat.npy --extent 0,0,1,1 --states states.npy \
    --steps 10 --dt 0.01 --out flat_out.npy; then
  [[ $(wc -l <out.txt) -eq 1 ]] && grep -q "^geodesic: 3 paths" out.txt || fail "summary: $(cat out.txt)"
fi

# 3. Errors name the problem.
expect_error "inverted extent" "x0 < x1" "$AAT" run geodesic --phi flat.npy --extent 1,0,0,1 --states states.npy \
  --steps 10 --dt 0.01 --out o.npy
expect_error "extent of three numbers" "four numbers" "$AAT" run geodesic --phi flat.npy --extent 0,0,1 \
  --states states.npy --steps 10 --dt 0.01 --out o.npy
expect_error "zero steps" "--steps" "$AAT" run geodesic --phi flat.npy --extent 0,0,1,1 --states states.npy \
  --steps 0 --dt 0.01 --out o.npy
expect_error "negative dt" "dt must be positive" "$AAT" run geodesic --phi flat.npy --extent 0,0,1,1 \
  --states states.npy --steps 10 --dt -0.01 --out o.npy
expect_error "phi of rank 3" "2-D grid" "$AAT" run geodesic --phi phi3d.npy --extent 0,0,1,1 --states states.npy \
  --steps 10 --dt 0.01 --out o.npy
expect_error "NaN in phi" "phi[2, 5] = nan" "$AAT" run geodesic --phi nan.npy --extent 0,0,1,1 --states states.npy \
  --steps 10 --dt 0.01 --out o.npy
expect_error "i32 states" "states must be f32" "$AAT" run geodesic --phi flat.npy --extent 0,0,1,1 \
  --states states_i32.npy --steps 10 --dt 0.01 --out o.npy
expect_error "missing file" "nope.npy" "$AAT" run geodesic --phi nope.npy --extent 0,0,1,1 --states states.npy \
  --steps 10 --dt 0.01 --out o.npy
expect_ok "--help" "$AAT" run geodesic --help

cli_finish
