#!/usr/bin/env bash
# Sets up (packages, configure, build) and runs the main job on the default device (the best
# GPU, else lavapipe on the CPU): exact attention on random inputs, checked against NumPy,
# then the same problem through a shader-only kernel and the plugin list.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}

scripts/install-deps.sh
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" --parallel "$(nproc)"

aat="$build/bin/aat"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== aat devices"
"$aat" devices

echo "== inputs: Q [2, 8, 256, 64], K/V [2, 2, 256, 64] (grouped-query), f32"
/usr/bin/python3 - "$work" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
d = sys.argv[1]
np.save(f"{d}/q.npy", rng.standard_normal((2, 8, 256, 64), dtype=np.float32))
np.save(f"{d}/k.npy", rng.standard_normal((2, 2, 256, 64), dtype=np.float32))
np.save(f"{d}/v.npy", rng.standard_normal((2, 2, 256, 64), dtype=np.float32))
PY

echo "== aat run attention --causal --json"
"$aat" run attention --q "$work/q.npy" --k "$work/k.npy" --v "$work/v.npy" --out "$work/o.npy" \
    --lse "$work/l.npy" --causal --json

echo "== check against NumPy (float64)"
/usr/bin/python3 - "$work" <<'PY'
import sys, numpy as np
d = sys.argv[1]
q, k, v, o = (np.load(f"{d}/{n}.npy").astype(np.float64) for n in "qkvo")
k, v = np.repeat(k, 4, axis=1), np.repeat(v, 4, axis=1)
s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
p = np.exp(s - s.max(-1, keepdims=True))
ref = (p / p.sum(-1, keepdims=True)) @ v
print(f"max |O - O_numpy| = {np.abs(o - ref).max():.2e}")
PY

echo "== aat plugins --brief"
"$aat" plugins --brief
