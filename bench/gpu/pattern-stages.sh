#!/usr/bin/env bash
# The pattern's stage times (aat run pattern --json: pooling, anchor, operands, map) with the map
# kernel's moments on the invocations and on the tensor cores, structured inputs, causal, f16,
# B = 1, H = 8, block_q 64, two runs each:
#   bench/gpu/pattern-stages.sh BUNDLE_BIN OUT_DIR      (from on-device setup; OUT_DIR absolute)
# SWEEP_SHAPES overrides the "N D" list (comma separated).
set -uo pipefail
bin=$1
out=$2
work=$(mktemp -d)
cd "$work"
IFS=, read -ra shapes <<<"${SWEEP_SHAPES:-32768 64,32768 128}"
for spec in "${shapes[@]}"; do
  set -- $spec
  n=$1 d=$2
  "$bin/aat" run attention-inputs --kind structured --length "$n" --heads 8 --head-dim "$d" --dtype f16 --prefix s_ \
    --quiet >/dev/null 2>&1 || { echo "inputs N=$n D=$d failed"; continue; }
  for moments in invocations tensor-cores; do
    for r in 1 2; do
      "$bin/aat" run pattern --q s_q.npy --k s_k.npy --causal --block-q 64 --map map.npy --json --moments "$moments" \
        >p.json 2>p.err || { tail -2 p.err; continue; }
      python3 - "$n" "$d" "$moments" <<'PY' | tee -a "$out/stages.txt"
import json, sys
n, d, moments = sys.argv[1:]
stages = json.load(open("p.json"))["stages_ms"]
print(f"N={n} D={d} {moments} " + " ".join(f"{k} {v:.3f}" for k, v in sorted(stages.items())))
PY
    done
  done
done
rm -rf "$work"
