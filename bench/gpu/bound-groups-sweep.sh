#!/usr/bin/env bash
# Adaptive attention against exact on a GPU, a fresh process per run (the CLI), structured inputs,
# causal, f16, B = 1, H = 8, across values of one of the map kernel's speed options (default
# --bound-groups, the groups a pass; SWEEP_OPTION=--moments for where the moments run):
#   [SWEEP_OPTION=--moments] bench/gpu/bound-groups-sweep.sh BUNDLE_BIN OUT_DIR [VALUES...]   (from on-device setup)
# VALUES: of the option (default "4 8 16"); "-" runs without the option. SWEEP_SHAPES overrides
# the "N D" list.
set -uo pipefail
bin=$1
out=$2
shift 2
groups=("$@")
option=${SWEEP_OPTION:---bound-groups}
name=${option#--}
[ ${#groups[@]} -gt 0 ] || groups=(4 8 16)
work=$(mktemp -d)
cd "$work"
IFS=, read -ra shapes <<<"${SWEEP_SHAPES:-16384 64,32768 64,65536 64,16384 128,32768 128}"
for spec in "${shapes[@]}"; do
  set -- $spec
  n=$1 d=$2
  "$bin/aat" run attention-inputs --kind structured --length "$n" --heads 8 --head-dim "$d" --dtype f16 --prefix s_ \
    --quiet >/dev/null 2>&1 || { echo "inputs N=$n D=$d failed"; continue; }
  for g in "${groups[@]}"; do
    extra=()
    [ "$g" = - ] || extra=("$option" "$g")
    for r in 1 2; do
      "$bin/aat" run adaptive-attention --q s_q.npy --k s_k.npy --v s_v.npy --out o.npy --causal --report --json \
        "${extra[@]}" >a.json 2>a.err || { tail -2 a.err; continue; }
      python3 - "$n" "$d" "$name=$g" <<'PY' | tee -a "$out/$name.txt"
import json, sys
n, d, g = sys.argv[1:]
r = json.load(open("a.json"))
s = r["stages_ms"]
print(f"N={n} D={d} {g} ifq {r['ifq']:.4f} cer {r['cer']:.2f} ae {r['ae']:.2f} adaptive {r['gpu_ms']:.2f} "
      f"exact {r['dense_gpu_ms']:.2f} " + " ".join(f"{k} {v:.2f}" for k, v in sorted(s.items())))
PY
    done
  done
done
rm -rf "$work"
