#!/usr/bin/env bash
# End-to-end test of `aat run adaptive-attention`: with --mass 1 (the plan kernel on the dense
# plan: --exact-below-cer 0) the output equals a float64 NumPy attention
# (plugins/attention/tests/make_reference_data.py); on structured inputs the --report / --json
# numbers are consistent (IFQ recomputed here from an exact run); on Gaussian inputs the defaults
# run exact attention and say so; errors.
# Usage: test_cli_adaptive.sh AAT_BINARY SOURCE_DIR
# Exits 77 (CTest SKIP_RETURN_CODE) when /usr/bin/python3 or numpy is missing.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../../../tests/cli/lib.sh"
cli_start cli_adaptive "$@"
REF_DIR="$SRC/plugins/attention/tests"
[[ -f $REF_DIR/make_reference_data.py ]] || { echo "FAIL - $REF_DIR/make_reference_data.py not found" >&2; exit 1; }
export PYTHONPATH="$REF_DIR:$PYTHONPATH"  # the checks import make_reference_data

"$PY" - <<'EOF'
import numpy as np
rng = np.random.default_rng(3)
# f32, causal, GQA (Hq 4, Hkv 2), N = 200 (not a tile multiple), D = 32.
for n, shape in (("q", (2, 4, 200, 32)), ("k", (2, 2, 200, 32)), ("v", (2, 2, 200, 32))):
    np.save(f"{n}.npy", rng.standard_normal(shape).astype(np.float32))
# f16 with key lengths, Nq != Nk.
for n, shape in (("q", (2, 2, 40, 64)), ("k", (2, 2, 300, 64)), ("v", (2, 2, 300, 64))):
    np.save(f"h_{n}.npy", rng.standard_normal(shape).astype(np.float16))
np.save("h_len.npy", np.array([300, 123], np.int32))
np.save("bad_v.npy", np.zeros((2, 2, 199, 32), np.float32))
EOF

# 1. mass 1, the plan kernel (no exact fallback): exact attention, against float64 NumPy.
if expect_ok "--mass 1 --causal (f32, GQA)" "$AAT" run adaptive-attention --q q.npy --k k.npy --v v.npy --out o.npy \
    --lse l.npy --causal --mass 1 --exact-below-cer 0 --json; then
  cp out.txt dense.json
  check "mass 1 equals exact attention" '
import json
import numpy as np
from make_reference_data import attention_reference
q, k, v = (np.load(f"{n}.npy") for n in "qkv")
o_ref, l_ref = attention_reference(q, k, v, causal=True)
o, l = np.load("o.npy"), np.load("l.npy")
assert o.dtype == np.float32 and o.shape == q.shape and l.shape == q.shape[:3]
err = np.abs(o - o_ref).max()
assert err < 1e-4, err
assert np.abs(l - l_ref).max() < 1e-4
r = json.load(open("dense.json"))
assert r["levels"]["full"] == 1.0 and 0.9 < r["cer"] <= 1.0 and r["exact"] is False, r
assert r["mode"] == "mass" and r["mass"] == 1 and "epsilon" not in r, r
print(f"max |err| {err:.2g}")
'
fi
if expect_ok "--mass 1 f16 --key-lengths" "$AAT" run adaptive-attention --q h_q.npy --k h_k.npy --v h_v.npy \
    --out h_o.npy --key-lengths h_len.npy --mass 1 --exact-below-cer 0 --item-slots 64; then
  check "f16 mass 1 equals exact attention" '
import numpy as np
from make_reference_data import attention_reference
q, k, v = (np.load(f"h_{n}.npy") for n in "qkv")
o_ref, _ = attention_reference(q, k, v, key_lengths=np.load("h_len.npy"))
o = np.load("h_o.npy")
assert o.dtype == np.float16
err = np.abs(o.astype(np.float64) - o_ref).max()
assert err < 2e-3, err
print(f"max |err| {err:.2g}")
'
fi

# 2. Structured inputs: --report --json gives ifq, cer, ae, levels; IFQ matches an exact run.
expect_ok "attention-inputs structured" "$AAT" run attention-inputs --kind structured --length 1024 --prefix s_
if expect_ok "--report --json (structured, causal)" "$AAT" run adaptive-attention --q s_q.npy --k s_k.npy \
    --v s_v.npy --out s_o.npy --causal --report --json --map s_map.npy; then
  cp out.txt report.json
  expect_ok "exact attention for the check" "$AAT" run attention --q s_q.npy --k s_k.npy --v s_v.npy --out s_exact.npy --causal
  check "report: ifq, cer, ae, levels, consistent with the outputs" '
import json
import numpy as np
r = json.load(open("report.json"))
for key in ("ifq", "cer", "ae", "levels", "gpu_ms", "dense_gpu_ms", "stages_ms"):
    assert key in r, key
assert set(r["levels"]) == {"full", "pool2", "pool4", "skip"}, r["levels"]
assert abs(sum(r["levels"].values()) - 1) < 1e-9
o, exact = np.load("s_o.npy").astype(np.float64), np.load("s_exact.npy").astype(np.float64)
ifq = 1 - np.linalg.norm(o - exact) / np.linalg.norm(exact)
assert abs(ifq - r["ifq"]) < 1e-4, (ifq, r["ifq"])
assert r["ifq"] > 0.99 and r["cer"] > 1.5 and r["ae"] > 0 and r["exact"] is False, r
assert r["mode"] == "bound" and r["epsilon"] == 0.01 and r["planned_cer"] >= 1.5, r
m = np.load("s_map.npy")
assert m.shape == (1, 1, 32, 16) and m.dtype == np.uint8
print("IFQ %.5f CER %.2f AE %.2f" % (r["ifq"], r["cer"], r["ae"]))
'
fi
if expect_ok "--report (text)" "$AAT" run adaptive-attention --q s_q.npy --k s_k.npy --v s_v.npy --out s_o2.npy \
    --causal --report --mass 0.99; then
  grep -q "IFQ" out.txt && grep -q "CER" out.txt && grep -q "AE" out.txt && pass "text report names IFQ, CER, AE" \
    || fail "text report: $(cat out.txt)"
fi

# 3. Gaussian inputs: nothing to skip, the defaults run exact attention and say so.
expect_ok "attention-inputs gaussian" "$AAT" run attention-inputs --kind gaussian --length 1024 --prefix g_
if expect_ok "defaults on gaussian inputs" "$AAT" run adaptive-attention --q g_q.npy --k g_k.npy --v g_v.npy \
    --out g_o.npy --causal; then
  grep -q "exact attention (.* path; the map's predicted CER .* is below 1.5)" out.txt \
    && pass "the text says exact attention ran" || fail "text: $(cat out.txt)"
fi
if expect_ok "defaults on gaussian inputs --json" "$AAT" run adaptive-attention --q g_q.npy --k g_k.npy --v g_v.npy \
    --out g_o.npy --causal --json; then
  cp out.txt gauss.json
  expect_ok "exact attention on gaussian inputs" "$AAT" run attention --q g_q.npy --k g_k.npy --v g_v.npy \
    --out g_exact.npy --causal
  check "exact attention ran: the JSON says so, the output is the exact one" '
import json
import numpy as np
r = json.load(open("gauss.json"))
assert r["exact"] is True and r["planned_cer"] < 1.5 and r["cer"] < 1, r
assert np.array_equal(np.load("g_o.npy"), np.load("g_exact.npy"))
'
fi

# 4. adaptive-inputs: the families' files.
expect_ok "adaptive-inputs documents f16" "$AAT" run adaptive-inputs --family documents --length 700 --heads 2 \
  --dtype f16 --prefix d_
check "adaptive-inputs writes [1, H, N, D] q, k, v" '
import numpy as np
q, k, v = (np.load(f"d_{n}.npy") for n in "qkv")
assert q.shape == k.shape == v.shape == (1, 2, 700, 64) and q.dtype == np.float16, (q.shape, q.dtype)
s = q[0, 0].astype(np.float64) @ k[0, 0].astype(np.float64).T / 8
assert s[10, :20].mean() > 6 and abs(s[10, 690:].mean()) < 3, "within a document +10 logits, across about 0"
'
rc=0; "$AAT" run adaptive-inputs --family rotary --head-dim 15 --prefix x_ >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "head dim 15" err.txt && pass "an odd head dim is an error naming it" \
  || fail "--head-dim 15: rc $rc, $(cat err.txt)"

# 5. Errors.
rc=0; "$AAT" run adaptive-attention --q q.npy --k k.npy --v bad_v.npy --out e.npy >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "2x2x199x32" err.txt && pass "K/V shape mismatch is an error naming the shape" \
  || fail "shape mismatch: rc $rc, $(cat err.txt)"
rc=0; "$AAT" run adaptive-attention --q nope.npy --k k.npy --v v.npy --out e.npy >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "nope.npy" err.txt && pass "missing input is an error" || fail "missing input: rc $rc"
rc=0; "$AAT" run adaptive-attention --q q.npy --k k.npy --v v.npy --out e.npy --exact-below-cer -1 >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "exact_below_cer = -1" err.txt && pass "a negative --exact-below-cer is an error naming it" \
  || fail "--exact-below-cer -1: rc $rc, $(cat err.txt)"
rc=0; "$AAT" run adaptive-attention --q q.npy --k k.npy --v v.npy --out e.npy --mass 0.9 --epsilon 0.1 >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "mass rule takes --mass" err.txt && pass "--mass with --epsilon is an error" \
  || fail "--mass --epsilon: rc $rc, $(cat err.txt)"
# q.npy is f32: the tensor-core plan kernel (f16 only) is refused with the reason, on any device.
rc=0; "$AAT" run adaptive-attention --q q.npy --k k.npy --v v.npy --out e.npy --kernel cooperative_matrix2 >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "tensor cores (cooperative_matrix2): " err.txt && pass "--kernel cooperative_matrix2 where it cannot run is an error saying why" \
  || fail "--kernel cooperative_matrix2: rc $rc, $(cat err.txt)"
[[ ! -e e.npy ]] && pass "no output written on error" || fail "an output was written despite the error"

cli_finish
