#!/usr/bin/env bash
# End-to-end test of `aat run route`: a block map written by NumPy -> work items, checked with
# NumPy (every kept block in exactly one item, items within the slot budget, the JSON).
# Usage: test_cli_router.sh AAT_BINARY SOURCE_DIR
# Exits 77 (CTest SKIP_RETURN_CODE) when /usr/bin/python3 or numpy is missing.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../../../tests/cli/lib.sh"
cli_start cli_router "$@"
# A causal map for Nq = Nk = 1000 (32 x 16 tiles of 32 x 64), random levels ignoring the mask.
"$PY" - <<'PYEOF'
import numpy as np
rng = np.random.default_rng(5)
np.save("map.npy", rng.integers(0, 5, size=(2, 3, 32, 16)).astype(np.uint8))
PYEOF

rc=0
"$AAT" run route --map map.npy --q-len 1000 --kv-len 1000 --causal --item-slots 256 --items items.npy --json \
  >out.txt 2>err.txt || rc=$?
if [[ $rc -ne 0 ]]; then
  fail "route: exit status $rc ($(cat err.txt))"
else
  pass "route --json --items"
  if "$PY" - >check.txt 2>&1 <<'PYEOF'
import json
import numpy as np
r = json.load(open("out.txt"))
m = np.load("map.npy")
items = np.load("items.npy").astype(np.int64) & 0xffffffff
# Expected kept blocks per row tile: visible (causal), not skipped/masked in the map.
rows = np.arange(32)[:, None]
cols = np.arange(16)[None, :]
visible = cols * 64 <= np.minimum(rows * 32 + 31, 999)
kept = (m < 3) & visible
assert r["kept_blocks"] == int(kept.sum()), (r["kept_blocks"], int(kept.sum()))
assert r["items"] == len(items), (r["items"], len(items))
count = np.zeros(2 * 3 * 32, int)
for row, begin, end, _ in items:
    assert 0 <= begin < end, (row, begin, end)
    count[row] += end - begin
assert np.array_equal(count, kept.reshape(-1, 16).sum(1)), "every kept block in exactly one item"
assert r["item_slots_max"] <= 256 + 64 and r["balance"] >= 1, r
for key in ("split_row_tiles", "partial_slots", "total_slots", "gpu_ms"):
    assert key in r, key
print("items", len(items), "kept", int(kept.sum()), "balance", r["balance"])
PYEOF
  then pass "items cover the kept blocks exactly once ($(cat check.txt))"; else fail "items: $(cat check.txt)"; fi
fi

rc=0
"$AAT" run route --map map.npy --q-len 1200 --kv-len 1000 >out.txt 2>err.txt || rc=$?
[[ $rc -eq 1 ]] && grep -q "38x16 blocks per head" err.txt && pass "a map of the wrong shape is an error" \
  || fail "wrong shape: rc $rc, $(cat err.txt)"

cli_finish
