#!/usr/bin/env bash
# Times variants of the pattern plugin against each other in one process run each: builds of
# libaat-pattern.so that differ in one shader change, swapped in through AAT_PLUGIN_PATH (the
# `aat` CLI loads plugins from there). Structured inputs, causal, f16, B = 1, H = 8, block_q 64;
# two rounds; every variant's map (--map: the levels) compared with the first variant's, with its
# level counts, so a change meant to keep the map shows that it does.
#   bench/gpu/pattern-variants.sh BUNDLE_DIR OUT_DIR NAME=PLUGIN_DIR[@GROUPS]...   (from on-device setup)
# NAME=DIR: a folder holding that build's libaat-pattern.so; @GROUPS adds --bound-groups GROUPS.
# SHAPES overrides the "N:D" list (space separated); PYTHON names a python3 with NumPy. How it
# was used: docs/adaptive.md, "Where the invocation kernel's time goes"; `aat reflect FILE.spv
# --statistics --spec ...` gives each variant's registers.
set -uo pipefail
py=${PYTHON:-python3}  # with NumPy
[ $# -ge 3 ] || { sed -n '2,11p' "$0"; exit 2; }
bundle=$(cd "$1" && pwd)
out=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
names=()
for arg in "$@"; do
  name=${arg%%=*} spec=${arg#*=}
  dir=${spec%@*}
  [ -f "$dir/libaat-pattern.so" ] || { echo "$name: no libaat-pattern.so in $dir"; exit 2; }
  mkdir -p "$work/plugins_$name"
  cp "$bundle"/plugins/*.so "$work/plugins_$name/" && cp "$dir/libaat-pattern.so" "$work/plugins_$name/"
  extra=""
  [[ $spec == *@* ]] && extra="--bound-groups ${spec#*@}"
  echo "$extra" >"$work/extra_$name"
  names+=("$name")
done
for shape in ${SHAPES:-32768:64 32768:128 16384:64 16384:128}; do
  n=${shape%:*} d=${shape#*:}
  AAT_PLUGIN_PATH=$bundle/plugins "$bundle/bin/aat" run attention-inputs --kind structured --length "$n" --heads 8 \
    --head-dim "$d" --dtype f16 --prefix "$work/s_" --quiet >/dev/null 2>&1 || { echo "inputs N=$n D=$d failed"; continue; }
  for _ in 1 2; do
    for name in "${names[@]}"; do
      # shellcheck disable=SC2046  # the extra options split on purpose
      AAT_PLUGIN_PATH=$work/plugins_$name "$bundle/bin/aat" run pattern --q "$work/s_q.npy" --k "$work/s_k.npy" --causal \
        --block-q 64 --map "$work/map_$name.npy" --json $(cat "$work/extra_$name") >"$work/p.json" 2>"$work/p.err" \
        || { echo "N=$n D=$d $name failed: $(tail -2 "$work/p.err")"; continue; }
      "$py" - "$n" "$d" "$name" "$work/p.json" <<'PY' | tee -a "$out/variants.txt"
import json, sys
n, d, name, path = sys.argv[1:]
stages = json.load(open(path))["stages_ms"]
print(f"N={n} D={d} {name} map {stages.get('pattern.map', float('nan')):.3f} "
      + " ".join(f"{k} {v:.3f}" for k, v in sorted(stages.items()) if k != "pattern.map"))
PY
    done
  done
  "$py" - "$work" "${names[@]}" <<'PY' | tee -a "$out/variants.txt"
import sys
import numpy as np
work, first, *others = sys.argv[1:]
a = np.load(f"{work}/map_{first}.npy")
for name in [first, *others]:
    b = np.load(f"{work}/map_{name}.npy")
    print(f"  map {name} against {first}: {int((a != b).sum())} of {a.size} blocks differ; "
          f"full/pool2/pool4/skip/masked {[int((b == level).sum()) for level in range(5)]}")
PY
done
