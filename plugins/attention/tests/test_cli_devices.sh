#!/usr/bin/env bash
# End-to-end test of `aat run attention --devices LIST`: the test device opened two or three
# times ("0,0", "0,0,0": what CI's lavapipe offers) must give the single-device output (O and L
# within 1e-5 + 1e-5 |x| for f32, one f16 ulp for f16), divided by heads and by keys, causal
# or not, GQA, key lengths, Nq != Nk; bad device lists and unsupported options are refused.
# Usage: test_cli_devices.sh AAT_BINARY SOURCE_DIR
# Exits 77 (CTest SKIP_RETURN_CODE) when /usr/bin/python3 or numpy is missing.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../../../tests/cli/lib.sh"
cli_start cli_devices "$@"

"$PY" - <<'EOF2'
import numpy as np
rng = np.random.default_rng(3)
from qkv_inputs import save_qkv
def save(*args): save_qkv(rng, *args)
save("a_", (1, 4, 80, 32), (1, 2, 80, 32))   # GQA
save("b_", (3, 2, 30, 16), (3, 1, 90, 16))   # MQA, Nk > Nq, key lengths
np.save("b_len.npy", np.array([90, 41, 0], dtype=np.int32))
save("c_", (1, 2, 48, 32), (1, 2, 64, 32), np.float16)
EOF2

# same_as_one_device NAME DEVICES PREFIX TOL ARGS...
same_as_one_device() {
  local name=$1 devices=$2 p=$3 tol=$4
  shift 4
  expect_ok "$name: one device" "$AAT" run attention --q ${p}q.npy --k ${p}k.npy --v ${p}v.npy \
    --out ${p}one_o.npy --lse ${p}one_l.npy "$@" || return 0
  if expect_ok "$name: --devices $devices" "$AAT" run attention --q ${p}q.npy --k ${p}k.npy --v ${p}v.npy \
      --out ${p}o.npy --lse ${p}l.npy --devices "$devices" --json "$@"; then
    cp out.txt ${p}report.json
    "$PY" "$SRC/tests/cli/same_outputs.py" ${p}o.npy ${p}l.npy ${p}one_o.npy ${p}one_l.npy "$tol" >check.txt 2>&1 \
      && pass "$name: same as one device ($(cat check.txt))" || fail "$name: differs from one device: $(cat check.txt)"
  fi
}

same_as_one_device "causal GQA, keys" 0,0 a_ 1e-5 --causal --split keys
"$PY" -c '
import json
r = json.load(open("a_report.json"))
assert r["split"] == "keys" and len(r["devices"]) == 2, r
assert all("keys" in d["share"] and d["flops"] > 0 for d in r["devices"]), r["devices"]
assert r["imbalance"] < 1.05 and r["wall_ms"] > 0, r
' >check.txt 2>&1 && pass "--json lists both devices, their key shares, the balance" || fail "--json: $(cat check.txt)"
same_as_one_device "causal GQA, auto" 0,0 a_ 1e-5 --causal
"$PY" -c 'import json; assert json.load(open("a_report.json"))["split"] == "heads"' >check.txt 2>&1 \
  && pass "2 kv heads over 2 devices: divided by heads" || fail "expected heads: $(cat check.txt)"
same_as_one_device "MQA, key lengths, 3 devices" 0,0,0 b_ 1e-5 --key-lengths b_len.npy
same_as_one_device "MQA, key lengths, causal, 3 devices, keys" 0,0,0 b_ 1e-5 --key-lengths b_len.npy --causal --split keys
same_as_one_device "f16 causal, keys" 0,0 c_ 1e-3 --causal --split keys

expect_error "empty entry in the device list" "empty entry" "$AAT" run attention --q a_q.npy --k a_k.npy \
  --v a_v.npy --out e.npy --devices 0,,0
expect_error "a device that does not exist" "device index 9 does not exist" "$AAT" run attention --q a_q.npy \
  --k a_k.npy --v a_v.npy --out e.npy --devices 0,9
expect_error "bias with several devices" "--bias runs on one device only" "$AAT" run attention --q a_q.npy \
  --k a_k.npy --v a_v.npy --out e.npy --devices 0,0 --bias a_q.npy
expect_error "mismatched dtypes" "share a dtype" "$AAT" run attention --q a_q.npy --k c_k.npy --v c_v.npy \
  --out e.npy --devices 0,0
expect_error "mismatched shapes" "must agree on batch" "$AAT" run attention --q a_q.npy --k b_k.npy --v b_v.npy \
  --out e.npy --devices 0,0
[[ ! -e e.npy ]] && pass "no output written on error" || fail "an output was written despite the error"

cli_finish
