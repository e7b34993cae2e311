#!/usr/bin/env bash
# Adaptive attention across epsilon on the GPU, one CLI process per run (as a user runs it):
# structured inputs and three families the estimator was not designed on, f16, causal, B = 1,
# H = 8, D = 64, the plan always run (--exact-below-cer 0). One JSON line per run in
# OUT/cli_sweep.jsonl (IFQ, CER, AE against exact attention on the same device, stage times);
# bench/adaptive_ae_plot.py draws IFQ against AE from it.
# Usage: bench/gpu/adaptive-epsilon-sweep.sh BIN_DIR OUT_DIR [N ...]   (default N: 16384 32768)
set -euo pipefail
B=$1; OUTD=$2; shift 2
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(16384 32768)
cd "$(mktemp -d)"
for n in "${sizes[@]}"; do for fam in structured rotary needles sinks_window; do
  if [ "$fam" = structured ]; then
    "$B/aat" run attention-inputs --kind structured --length "$n" --heads 8 --head-dim 64 --dtype f16 --prefix s_ --quiet
  else
    "$B/aat" run adaptive-inputs --family "$fam" --length "$n" --heads 8 --head-dim 64 --dtype f16 --prefix s_ --quiet
  fi
  for e in 0.003 0.01 0.03 0.1; do
    "$B/aat" run adaptive-attention --q s_q.npy --k s_k.npy --v s_v.npy --out o.npy --causal --epsilon "$e" \
      --exact-below-cer 0 --report --json > a.json 2> a.err || { echo "N=$n $fam epsilon $e failed:"; tail -2 a.err; continue; }
    python3 -c "import json; d=json.load(open('a.json')); d.update(kind='$fam', n=$n, epsilon=$e, head_dim=64); print(json.dumps({k: d[k] for k in ('kind','n','epsilon','head_dim','ifq','cer','ae','gpu_ms','dense_gpu_ms','stages_ms')}))" >> "$OUTD/cli_sweep.jsonl"
  done
done; done
wc -l "$OUTD/cli_sweep.jsonl"
