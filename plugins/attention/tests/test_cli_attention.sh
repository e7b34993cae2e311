#!/usr/bin/env bash
# End-to-end test of `aat run attention`: .npy in, .npy out, checked against a float64 NumPy
# reference (attention_reference in make_reference_data.py, next to this script).
# Usage: test_cli_attention.sh AAT_BINARY SOURCE_DIR
# Exits 77 (CTest SKIP_RETURN_CODE) when /usr/bin/python3 or numpy is missing.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../../../tests/cli/lib.sh"
cli_start cli_attention "$@"
REF_DIR="$SRC/plugins/attention/tests"

[[ -f $REF_DIR/make_reference_data.py ]] || { echo "FAIL - $REF_DIR/make_reference_data.py not found" >&2; exit 1; }

# check.py OUT LSE [--causal] [--scale S] [--key-lengths F] [--bias F] [--abs A] [--rel R] [--lse-abs A]
# Compares the kernel's O and L with the float64 reference computed from the same .npy inputs
# (f16 inputs are widened exactly, so the reference sees what the GPU saw).
cat > check.py <<EOF
import argparse, sys
import numpy as np
sys.path.insert(0, "$REF_DIR")
from make_reference_data import attention_reference

p = argparse.ArgumentParser()
p.add_argument("out"); p.add_argument("lse")
p.add_argument("--prefix", default="")
p.add_argument("--causal", action="store_true")
p.add_argument("--scale", type=float)
p.add_argument("--key-lengths"); p.add_argument("--bias")
p.add_argument("--abs", type=float, default=1e-4); p.add_argument("--rel", type=float, default=0.0)
p.add_argument("--lse-abs", type=float, default=1e-4)
a = p.parse_args()
q, k, v = (np.load(a.prefix + n + ".npy") for n in "qkv")
lengths = np.load(a.key_lengths) if a.key_lengths else None
bias = np.load(a.bias) if a.bias else None
o_ref, l_ref = attention_reference(q, k, v, causal=a.causal, scale=a.scale, key_lengths=lengths, bias=bias)
o, l = np.load(a.out), np.load(a.lse)
problems = []
if o.dtype != q.dtype: problems.append(f"O dtype {o.dtype}, want {q.dtype}")
if o.shape != q.shape: problems.append(f"O shape {o.shape}, want {q.shape}")
if l.dtype != np.float32: problems.append(f"L dtype {l.dtype}, want float32")
if l.shape != q.shape[:3]: problems.append(f"L shape {l.shape}, want {q.shape[:3]}")
if not problems:
    o64 = o.astype(np.float64)
    if not np.all(np.isfinite(o64)): problems.append("non-finite O")
    err = np.abs(o64 - o_ref)
    tol = a.abs + a.rel * np.abs(o_ref)
    if np.any(err > tol):
        i = np.unravel_index(np.argmax(err - tol), err.shape)
        problems.append(f"O max |err| {err.max():.3g} (at {i}: got {o64[i]}, want {o_ref[i]}, tol {tol[i]:.3g})")
    masked = np.isinf(l_ref)
    if np.any(l[masked] != l_ref[masked]): problems.append("L of fully masked rows is not -inf")
    if np.any(o64[masked] != 0): problems.append("O of fully masked rows is not 0")
    l_err = np.abs(l.astype(np.float64)[~masked] - l_ref[~masked])
    l_tol = a.lse_abs * (1 + np.abs(l_ref[~masked]))
    if np.any(l_err > l_tol): problems.append(f"L max |err| {l_err.max():.3g}")
    print(f"O max |err| {err.max():.3g}, L max |err| {l_err.max() if l_err.size else 0:.3g}")
if problems:
    print("; ".join(problems), file=sys.stderr)
    sys.exit(1)
EOF

"$PY" - <<'EOF'
import numpy as np
rng = np.random.default_rng(11)
from qkv_inputs import save_qkv
def save(name, a): np.save(name, a)
def qkv(*args): save_qkv(rng, *args)
# 1. f32, causal, GQA (Hq 4, Hkv 2), N = 48 (not a tile multiple), D = 32.
qkv("", (2, 4, 48, 32), (2, 2, 48, 32))
# 2. f16, Nq != Nk, D = 64.
qkv("h_", (1, 2, 20, 64), (1, 2, 70, 64), np.float16)
# 3. key lengths (one of them 0) and a bias broadcast over batch.
qkv("m_", (3, 2, 16, 32), (3, 2, 40, 32))
save("m_len.npy", np.array([40, 0, 17], dtype=np.int32))
save("m_bias.npy", rng.standard_normal((1, 2, 16, 40)).astype(np.float32))
# 4. decode with a forced K split.
qkv("d_", (1, 4, 1, 32), (1, 1, 203, 32))
# Errors: K with another head dim; key lengths of the wrong dtype; a bias of the wrong shape.
save("bad_k.npy", rng.standard_normal((2, 2, 48, 24)).astype(np.float32))
save("bad_len.npy", np.array([40.0, 1.0, 2.0], dtype=np.float32))
save("bad_bias.npy", np.zeros((1, 2, 16, 41), dtype=np.float32))
EOF

# 1. f32 causal GQA with --json and --lse.
if expect_ok "f32 causal GQA --json" "$AAT" run attention --q q.npy --k k.npy --v v.npy --out o.npy \
    --lse l.npy --causal --json; then
  cp out.txt report.json
  "$PY" check.py o.npy l.npy --causal --abs 1e-4 >check.txt 2>&1 \
    && pass "f32 causal output matches numpy ($(cat check.txt))" || fail "f32 causal output: $(cat check.txt)"
  "$PY" -c '
import json
r = json.load(open("report.json"))
for key in ("tiling", "flops", "gpu_ms", "kernel", "device"):
    assert key in r, f"missing {key}: {r}"
assert r["kernel"] == "attention", r
assert isinstance(r["device"], str) and r["device"], r
assert isinstance(r["gpu_ms"], (int, float)) and r["gpu_ms"] >= 0, r
assert r["flops"] == 4 * 2 * 4 * 48 * 48 * 32 / 2, r["flops"]   # halved: causal, Nq == Nk
t = r["tiling"]
for key in ("block_q", "block_kv", "workgroup_size", "splits"):
    assert isinstance(t.get(key), int) and t[key] >= 1, t
' >check.txt 2>&1 && pass "--json has tiling, flops, gpu_ms, kernel, device" || fail "--json report: $(cat check.txt) $(cat report.json)"
fi

# 2. f16 in, f16 out; reference from the same f16 values; tolerance 1e-3 + 1e-3 |ref|.
if expect_ok "f16 Nq != Nk" "$AAT" run attention --q h_q.npy --k h_k.npy --v h_v.npy --out h_o.npy --lse h_l.npy; then
  "$PY" check.py h_o.npy h_l.npy --prefix h_ --abs 1e-3 --rel 1e-3 >check.txt 2>&1 \
    && pass "f16 output matches numpy ($(cat check.txt))" || fail "f16 output: $(cat check.txt)"
fi

# 3. --key-lengths (with a 0) and --bias [1, H, Nq, Nk], custom --scale.
if expect_ok "--key-lengths --bias --scale" "$AAT" run attention --q m_q.npy --k m_k.npy --v m_v.npy \
    --out m_o.npy --lse m_l.npy --key-lengths m_len.npy --bias m_bias.npy --scale 0.25; then
  "$PY" check.py m_o.npy m_l.npy --prefix m_ --key-lengths m_len.npy --bias m_bias.npy --scale 0.25 >check.txt 2>&1 \
    && pass "masked output matches numpy ($(cat check.txt))" || fail "masked output: $(cat check.txt)"
fi

# 4. Forced split-K on a decode shape (Nk = 203, MQA).
if expect_ok "--splits 3 decode" "$AAT" run attention --q d_q.npy --k d_k.npy --v d_v.npy --out d_o.npy \
    --lse d_l.npy --splits 3 --json; then
  "$PY" check.py d_o.npy d_l.npy --prefix d_ >check.txt 2>&1 \
    && pass "split output matches numpy ($(cat check.txt))" || fail "split output: $(cat check.txt)"
  "$PY" -c 'import json; assert json.load(open("out.txt"))["tiling"]["splits"] == 3' 2>/dev/null \
    && pass "--splits 3 reported" || fail "--splits 3 not reported: $(cat out.txt)"
fi

# 5. Errors: exit status 1, the problem named on stderr.
expect_error "head dim mismatch" "2x2x48x24" "$AAT" run attention --q q.npy --k bad_k.npy --v bad_k.npy --out e.npy
expect_error "key lengths not i32" "key lengths" "$AAT" run attention --q m_q.npy --k m_k.npy --v m_v.npy \
  --out e.npy --key-lengths bad_len.npy
expect_error "bias shape" "1x2x16x41" "$AAT" run attention --q m_q.npy --k m_k.npy --v m_v.npy --out e.npy \
  --bias bad_bias.npy
expect_error "missing input" "nope.npy" "$AAT" run attention --q nope.npy --k k.npy --v v.npy --out e.npy
[[ ! -e e.npy ]] && pass "no output written on error" || fail "an output was written despite the error"

cli_finish
