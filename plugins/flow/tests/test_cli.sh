#!/usr/bin/env bash
# End-to-end test of `aat run flow`: numpy makes the inputs and checks the outputs.
# Usage: test_cli.sh AAT_BINARY
# /usr/bin/python3 is the interpreter that has numpy.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../../../tests/cli/lib.sh"
cli_start flow_cli "$@"

"$PY" - <<'PYEOF'
import numpy as np
ny, nx = 40, 48
i, j = np.mgrid[0:ny, 0:nx]
x, y = 2 * np.pi * j / nx, 2 * np.pi * i / ny
phi = 0.3 * np.sin(x) * np.cos(y) + 0.15 * np.sin(2 * x + 1.0)
np.save("phi.npy", phi.astype(np.float32))
np.save("const.npy", np.full((20, 20), 0.4, np.float32))
np.save("phi_f16.npy", phi.astype(np.float16))
bad = phi.astype(np.float32).copy(); bad[3, 4] = np.nan
np.save("nan.npy", bad)
PYEOF

# numpy's own explicit step on u = e^{2 phi} (torus), the reference the output must match.
cat > reference.py <<'PYEOF'
import numpy as np
def evolve(phi, h, steps, dt, periodic=True):
    u = np.exp(2 * phi.astype(np.float64))
    for _ in range(steps):
        L = np.log(u)
        P = np.pad(L, 1, mode="wrap" if periodic else "edge")
        u = u + dt / h**2 * (P[2:, 1:-1] + P[:-2, 1:-1] + P[1:-1, 2:] + P[1:-1, :-2] - 4 * L)
    return 0.5 * np.log(u)
def curvature(phi, h, periodic=True):
    P = np.pad(phi.astype(np.float64), 1, mode="wrap" if periodic else "edge")
    lap = (P[2:, 1:-1] + P[:-2, 1:-1] + P[1:-1, 2:] + P[1:-1, :-2] - 4 * P[1:-1, 1:-1]) / h**2
    return -np.exp(-2 * P[1:-1, 1:-1]) * lap
PYEOF

# 1. The torus: matches numpy, area conserved, max|K| down, the JSON report complete.
if expect_ok "periodic --json --curvature" "$AAT" run flow --phi phi.npy --spacing 0.05 --steps 300 --dt 1.5e-4 \
    --boundary periodic --out out.npy --curvature k.npy --json; then
  "$PY" - <<'PYEOF' && pass "periodic output matches numpy; area and max|K| as promised" || fail "periodic output wrong"
import json, numpy as np
from reference import evolve, curvature
r = json.load(open("out.txt"))
assert r["kernel"] == "flow" and r["boundary"] == "periodic" and r["grid"] == [40, 48], r
assert r["substeps"] == 1 and r["steps"] == 300 and r["gpu_ms"] >= 0, r
phi = np.load("phi.npy"); out = np.load("out.npy"); k = np.load("k.npy")
assert out.shape == (40, 48) and out.dtype == np.float32 and k.shape == (40, 48)
ref = evolve(phi, 0.05, 300, 1.5e-4)
assert np.abs(out - ref).max() < 2e-6, np.abs(out - ref).max()
assert np.abs(k - curvature(out, 0.05)).max() < 5e-4
a0 = (np.exp(2 * phi.astype(np.float64)) * 0.05**2).sum()
assert abs(r["area"]["before"] - a0) < 1e-9 * a0, r["area"]
assert abs(r["area"]["relative_change"]) < 1e-6, r["area"]
assert r["max_abs_curvature"]["after"] < r["max_abs_curvature"]["before"], r["max_abs_curvature"]
assert abs(r["max_abs_curvature"]["after"] - np.abs(k).max()) < 1e-6 * np.abs(k).max()
PYEOF
fi

# 2. A dt above the bound: sub-stepped, reported in the JSON and on stderr.
if expect_ok "dt above the bound is sub-stepped" "$AAT" run flow --phi phi.npy --spacing 0.05 --steps 20 --dt 1e-3 \
    --boundary neumann --out sub.npy --json; then
  grep -q "exceeds the stability bound" err.txt || fail "no sub-step notice on stderr: $(cat err.txt)"
  "$PY" - <<'PYEOF' && pass "sub-steps reported and the result stable" || fail "sub-stepped run wrong"
import json, numpy as np
from reference import evolve
r = json.load(open("out.txt"))
phi = np.load("phi.npy").astype(np.float64)
bound = 0.05**2 * np.exp(2 * phi.min()) / 4
n = int(np.ceil(1e-3 / bound))
assert r["substeps"] == n and abs(r["stable_dt"] - bound) < 1e-6 * bound, (r, n, bound)
assert abs(r["dt_substep"] - 1e-3 / n) < 1e-15
out = np.load("sub.npy")
assert np.abs(out - evolve(np.load("phi.npy"), 0.05, 20 * n, 1e-3 / n, periodic=False)).max() < 2e-6
PYEOF
fi

# 3. Constant phi: unchanged; plain output is one line.
if expect_ok "constant phi" "$AAT" run flow --phi const.npy --spacing 0.1 --steps 10 --dt 1e-3 --out c.npy; then
  [[ $(wc -l <out.txt) -eq 1 ]] && grep -q "^flow: 20x20 grid" out.txt || fail "summary: $(cat out.txt)"
  "$PY" -c 'import numpy as np, sys; sys.exit(0 if np.abs(np.load("c.npy") - 0.4).max() < 5e-7 else 1)' \
    && pass "constant phi is a fixed point" || fail "constant phi moved"
fi

# 4. Errors name the problem.
expect_error "bad boundary" "'periodic' or 'neumann', got 'dirichlet'" "$AAT" run flow --phi phi.npy --spacing 0.05 \
  --steps 1 --dt 1e-4 --boundary dirichlet --out o.npy
expect_error "zero spacing" "spacing must be positive" "$AAT" run flow --phi phi.npy --spacing 0 --steps 1 --dt 1e-4 \
  --out o.npy
expect_error "negative steps" "--steps" "$AAT" run flow --phi phi.npy --spacing 0.05 --steps -3 --dt 1e-4 --out o.npy
expect_error "zero dt" "dt must be positive" "$AAT" run flow --phi phi.npy --spacing 0.05 --steps 1 --dt 0 --out o.npy
expect_error "f16 phi" "phi must be f32" "$AAT" run flow --phi phi_f16.npy --spacing 0.05 --steps 1 --dt 1e-4 --out o.npy
expect_error "NaN in phi" "phi[3, 4] = nan" "$AAT" run flow --phi nan.npy --spacing 0.05 --steps 1 --dt 1e-4 --out o.npy
expect_ok "--help" "$AAT" run flow --help

cli_finish
