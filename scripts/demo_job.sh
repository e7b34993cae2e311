#!/usr/bin/env bash
# The main job (scripts/demo.sh runs it after the build; CTest runs it small as demo_job):
# adaptive and exact attention on a long structured input (attention sinks, a local band and
# long-range retrieval passages: the patterns language-model heads show), AAT's own report of
# IFQ / CER / AE, the same quantities checked against NumPy, and a picture of the plan.
#   scripts/demo_job.sh AAT_BINARY OUT_DIR [LENGTH]     (LENGTH default 8192; ~1-2 min on lavapipe)
# Writes OUT_DIR/adaptive_plan.png (the README's docs/images/adaptive_plan.png is this picture at
# the default length: PLAN_PNG=docs/images/adaptive_plan.png scripts/demo.sh).
set -euo pipefail
aat=${1:?usage: demo_job.sh AAT_BINARY OUT_DIR [LENGTH]}
out=${2:?usage: demo_job.sh AAT_BINARY OUT_DIR [LENGTH]}
length=${3:-8192}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
cd "$out"

echo "== inputs: structured Q, K, V [1, 1, $length, 64] (sinks, local band, retrieval passages), f32"
"$aat" run attention-inputs --kind structured --length "$length" --prefix s_

echo "== adaptive attention (pattern -> router -> attention over the plan -> merge), causal, with AAT's report"
"$aat" run adaptive-attention --q s_q.npy --k s_k.npy --v s_v.npy --out o_adaptive.npy --causal \
    --map plan.npy --report --json --progress >adaptive.json
/usr/bin/python3 - <<'PY'
import json
r = json.load(open("adaptive.json"))
levels = ", ".join(f"{k} {100 * v:.1f}%" for k, v in r["levels"].items())
print(f"   {r['device']}: {r['gpu_ms']:.1f} ms on the device; blocks: {levels}")
print(f"   AAT's report:  IFQ {r['ifq']:.5f}   CER {r['cer']:.2f}   AE {r['ae']:.2f}   "
      f"(exact attention took {r['dense_gpu_ms']:.1f} ms, {r['baseline']} path)")
PY

echo "== exact attention (FlashAttention-style), causal"
"$aat" run attention --q s_q.npy --k s_k.npy --v s_v.npy --out o_exact.npy --causal --json --progress >exact.json
/usr/bin/python3 - <<'PY'
import json
r = json.load(open("exact.json"))
print(f"   {r['gpu_ms']:.1f} ms on the device, {r['tflops'] * 1e3:.2f} GFLOP/s; tiling: {r['tiling']['reason']}")
PY

echo "== the same quantities from NumPy (float64, independent of AAT)"
/usr/bin/python3 - <<'PY'
import json
import numpy as np

q, k, v = (np.load(f"s_{n}.npy")[0, 0].astype(np.float64) for n in "qkv")
n, d = q.shape
exact = np.empty_like(q)
for r0 in range(0, n, 512):  # row blocks keep memory at 512 x N scores
    s = q[r0:r0 + 512] @ k.T / np.sqrt(d)
    s[np.arange(r0, min(r0 + 512, n))[:, None] < np.arange(n)[None, :]] = -np.inf
    p = np.exp(s - s.max(1, keepdims=True))
    exact[r0:r0 + 512] = (p / p.sum(1, keepdims=True)) @ v
o_exact = np.load("o_exact.npy")[0, 0]
o_adaptive = np.load("o_adaptive.npy")[0, 0]
report = json.load(open("adaptive.json"))
exact_run = json.load(open("exact.json"))
ifq = 1 - np.linalg.norm(o_adaptive - exact) / np.linalg.norm(exact)
print(f"   exact attention:    max |O - O_numpy| = {np.abs(o_exact - exact).max():.2e}")
print(f"   adaptive attention: IFQ = 1 - |O - O_numpy| / |O_numpy| = {ifq:.5f}   (AAT's report: {report['ifq']:.5f})")
dense = 4.0 * d * n * (n + 1) / 2  # 4 D FLOPs per visible (query, key) pair
print(f"   CER = dense FLOPs / executed FLOPs = {dense:.4g} / {report['executed_flops']:.4g} = "
      f"{dense / report['executed_flops']:.2f}   (AAT's report: {report['cer']:.2f}; "
      f"executed FLOPs are the plan's, from AAT)")
print(f"   AE = exact time / adaptive time = {exact_run['gpu_ms']:.1f} / {report['gpu_ms']:.1f} ms = "
      f"{exact_run['gpu_ms'] / report['gpu_ms']:.2f}   (a timing: AAT's report measured {report['ae']:.2f})")
if abs(ifq - report["ifq"]) > 1e-4 or np.abs(o_exact - exact).max() > 1e-4 or abs(dense / report["dense_flops"] - 1) > 1e-9:
    raise SystemExit("the NumPy check disagrees with AAT")
PY

echo "== the plan: one colour per (query tile, key tile) block"
block_q=$(/usr/bin/python3 -c 'import json; print(json.load(open("adaptive.json"))["tiles"]["block_q"])')
block_k=$(/usr/bin/python3 -c 'import json; print(json.load(open("adaptive.json"))["tiles"]["block_k"])')
/usr/bin/python3 "$here/plan_png.py" plan.npy adaptive_plan.png --block-q "$block_q" --block-k "$block_k"
