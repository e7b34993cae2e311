# adaptive vs exact on the H200, fresh process per run (the CLI), structured inputs, causal.
B=$1; OUTD=$2
cd /tmp
for spec in "8192 64" "16384 64" "32768 64" "65536 64" "16384 128" "32768 128"; do
  set -- $spec; n=$1; d=$2
  $B/aat run attention-inputs --kind structured --length $n --heads 8 --head-dim $d --dtype f16 --prefix s_ --quiet >/dev/null 2>&1 || { echo "inputs $n $d failed"; continue; }
  for r in 1 2; do
    $B/aat run adaptive-attention --q s_q.npy --k s_k.npy --v s_v.npy --out o.npy --causal --report --json > a.json 2>a.err
    python3 -c "import json; d=json.load(open('a.json')); s=d['stages_ms']; print('N=$n D=$d', 'ifq %.4f cer %.2f ae %.2f adaptive %.2f exact %.2f pattern %.2f router %.2f attention %.2f merge %.2f' % (d['ifq'], d['cer'], d['ae'], d['gpu_ms'], d['dense_gpu_ms'], s['pattern'], s['router'], s['attention'], s['merge']), d['tiles']['path'])" | tee -a $OUTD/sweep.txt || tail -2 a.err
  done
done
