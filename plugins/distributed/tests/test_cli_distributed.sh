#!/usr/bin/env bash
# End-to-end test of `mpirun -np N aat run attention ... --distributed` on this machine's device
# (lavapipe in CI: every rank opens its own context on it). The ranks' output must equal the
# single-device run's (O and L within 1e-5 + 1e-5 |x| for f32, one f16 ulp for f16), for 2 and
# 3 ranks (uneven shards), causal and not, GQA/MQA, key lengths, Nq != Nk, keys and heads
# divisions; and every failure must end the job with a clear message, never a hang:
# bad input (rank 0's files, a mismatch of Q and K, one rank's own devices or settings via
# mpirun's MPMD form), a rank that stalls (named when the timeout runs out), a rank that dies.
# Usage: test_cli_distributed.sh AAT_BINARY SOURCE_DIR MPIRUN FAULTS_DRIVER
# Exits 77 (CTest SKIP_RETURN_CODE) when /usr/bin/python3 or numpy is missing.
set -euo pipefail

AAT=${1:?usage: test_cli_distributed.sh AAT_BINARY SOURCE_DIR MPIRUN FAULTS_DRIVER}
SRC=${2:?}
MPIRUN=${3:?}
FAULTS=${4:?}
source "$SRC/tests/cli/lib.sh"
cli_require_numpy
cli_enter_workdir cli_distributed

# As root, Open MPI wants both variables; more ranks than the 2 cores of CI need --oversubscribe.
# The shared-memory transport's single-copy mode needs ptrace rights containers often lack.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
# Under AddressSanitizer (scripts/ci-hardening.sh) the ranks run without LeakSanitizer: Open MPI
# 4.1 leaves its runtime state allocated after MPI_Finalize, by design, and LeakSanitizer cannot
# unwind through its libraries (no frame pointers; full unwinding makes lavapipe ~100x slower),
# so its reports could not even be suppressed by module. Every other check stays on, and the
# code the ranks share with one process (MultiDeviceAttention) is leak-checked by attention_tests
# and cli_attention_devices.
mpi() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" timeout 120 "$MPIRUN" --bind-to none "$@"; }

"$PY" - <<'EOF'
import numpy as np
rng = np.random.default_rng(5)
from qkv_inputs import save_qkv
def save(*args): save_qkv(rng, *args)
save("a_", (1, 4, 96, 32), (1, 2, 96, 32))      # GQA, Nq == Nk
save("b_", (2, 2, 40, 16), (2, 2, 77, 16))      # Nq != Nk, with key lengths
np.save("b_len.npy", np.array([77, 30], dtype=np.int32))
save("c_", (1, 4, 50, 16), (1, 4, 50, 16))      # enough heads: divided by heads
save("d_", (1, 2, 71, 16), (1, 2, 71, 16))      # 71 keys over 3 ranks
save("e_", (1, 4, 33, 24), (1, 1, 100, 24))     # MQA, Nk > Nq
save("f_", (1, 2, 64, 32), (1, 1, 80, 32), np.float16)
np.save("bad_k.npy", rng.standard_normal((1, 2, 96, 16)).astype(np.float32))
EOF

# same_as_one_device NAME RANKS PREFIX TOL ARGS...: one device, then RANKS ranks, compared
# (--inputs-on-every-rank goes to the ranks' run only).
same_as_one_device() {
  local name=$1 ranks=$2 p=$3 tol=$4
  shift 4
  local one=()
  for a in "$@"; do [[ $a == --inputs-on-every-rank ]] || one+=("$a"); done
  if ! expect_ok "$name: one device" "$AAT" run attention --q ${p}q.npy --k ${p}k.npy --v ${p}v.npy \
      --out ${p}one_o.npy --lse ${p}one_l.npy "${one[@]}"; then
    return
  fi
  if expect_ok "$name: $ranks ranks" mpi -np "$ranks" "$AAT" run attention --q ${p}q.npy --k ${p}k.npy \
      --v ${p}v.npy --out ${p}o.npy --lse ${p}l.npy --distributed --json "$@"; then
    cp out.txt ${p}report.json
    if "$PY" "$SRC/tests/cli/same_outputs.py" ${p}o.npy ${p}l.npy ${p}one_o.npy ${p}one_l.npy "$tol" >check.txt 2>&1; then
      pass "$name: $ranks ranks give the one-device output ($(cat check.txt))"
    else
      fail "$name: $ranks ranks differ from one device: $(cat check.txt)"
    fi
  fi
}

same_as_one_device "causal GQA, keys" 2 a_ 1e-5 --causal --split keys
"$PY" -c '
import json
r = json.load(open("a_report.json"))
assert r["ranks"] == 2 and r["split"] == "keys", r
assert sorted({d["rank"] for d in r["devices"]}) == [0, 1], r["devices"]
assert all("keys" in d["share"] for d in r["devices"]), r["devices"]
assert r["imbalance"] < 1.05, r["imbalance"]
' >check.txt 2>&1 && pass "--json names both ranks and their key shares" || fail "--json report: $(cat check.txt)"
same_as_one_device "key lengths, Nq != Nk, keys" 2 b_ 1e-5 --key-lengths b_len.npy --split keys
same_as_one_device "causal, enough heads" 2 c_ 1e-5 --causal
"$PY" -c 'import json; r = json.load(open("c_report.json")); assert r["split"] == "heads", r' >check.txt 2>&1 \
  && pass "4 heads over 2 ranks: divided by heads" || fail "expected a heads division: $(cat check.txt)"
same_as_one_device "causal, 71 keys over 3 ranks" 3 d_ 1e-5 --causal --split keys
same_as_one_device "MQA, Nk > Nq, 3 ranks" 3 e_ 1e-5
same_as_one_device "f16 causal GQA, keys" 2 f_ 1e-3 --causal --split keys
same_as_one_device "inputs on every rank, causal keys" 3 a_ 1e-5 --causal --split keys --inputs-on-every-rank

# Failures: every rank exits 1 (mpirun passes it on), one message, from rank 0, naming the rank at fault.
one_message() {  # NAME NEEDLE...: exactly one "aat: error" line, containing every NEEDLE
  local name=$1
  shift
  local count
  count=$(grep -c "aat: error" err.txt || true)
  if [[ $count -ne 1 ]]; then
    fail "$name: $count error messages, expected 1: $(cat err.txt)"
    return
  fi
  for needle in "$@"; do
    grep -qF -- "$needle" err.txt || { fail "$name: the message does not mention '$needle': $(cat err.txt)"; return; }
  done
  pass "$name: one message ($(grep "aat: error" err.txt | cut -c1-160))"
}
expect_exit() {  # NAME STATUS CMD...: CMD must exit with STATUS
  local name=$1 want=$2 rc=0
  shift 2
  "$@" >out.txt 2>err.txt || rc=$?
  [[ $rc -eq $want ]] && pass "$name: exit status $rc" || fail "$name: exit status $rc, expected $want: $(cat err.txt)"
}

expect_exit "rank 0 cannot read Q" 1 mpi -np 2 "$AAT" run attention --q missing.npy --k a_k.npy --v a_v.npy \
  --out x.npy --distributed
one_message "rank 0 cannot read Q" "rank 0 (root" "missing.npy"
expect_exit "Q and K disagree on D" 1 mpi -np 2 "$AAT" run attention --q a_q.npy --k bad_k.npy --v bad_k.npy \
  --out x.npy --distributed
one_message "Q and K disagree on D" "rank 0 (root" "must agree on batch (dim 0) and head dim"
common=(--q a_q.npy --k a_k.npy --v a_v.npy --out x.npy --distributed --causal)
expect_exit "rank 1 names a device it lacks" 1 mpi -np 1 "$AAT" run attention "${common[@]}" : \
  -np 1 "$AAT" run attention "${common[@]}" --devices 7
one_message "rank 1 names a device it lacks" "rank 1 (" "device index 7 does not exist"
expect_exit "rank 1 started without --causal" 1 mpi -np 1 "$AAT" run attention "${common[@]}" : \
  -np 1 "$AAT" run attention --q a_q.npy --k a_k.npy --v a_v.npy --out x.npy --distributed
one_message "rank 1 started without --causal" "rank 1 (" "other options than rank 0" '"causal":false'
expect_exit "rank 2 of 3 reads another Q" 1 mpi -np 2 "$AAT" run attention "${common[@]}" : \
  -np 1 "$AAT" run attention --q b_q.npy --k a_k.npy --v a_v.npy --out x.npy --distributed --causal
one_message "rank 2 of 3 reads another Q" "rank 2 (" "other settings than rank 0" "b_q.npy"
expect_exit "rank 1 holds other inputs" 1 mpi -np 1 "$AAT" run attention "${common[@]}" --inputs-on-every-rank : \
  -np 1 "$AAT" run attention --q b_q.npy --k b_k.npy --v b_v.npy --out x.npy --distributed --causal --inputs-on-every-rank
one_message "rank 1 holds other inputs" "rank 1 (" "holds other inputs than rank 0" "Q f32[2x2x40x16]" "Q f32[1x4x96x32]"
[[ ! -e x.npy ]] && pass "no output written after a failure" || fail "an output was written despite the failure"

# Faults the CLI cannot play (distributed_faults: 3 s timeout; causal keys division of 64 keys).
timed() {  # NAME LIMIT STATUS-PREDICATE CMD...: runs CMD, fails when it took LIMIT s or more
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS rc=0
  "$@" >out.txt 2>err.txt || rc=$?
  local took=$((SECONDS - start))
  echo "$rc" >rc.txt
  [[ $took -lt $limit ]] && pass "$name: ended in ${took} s" || fail "$name: took ${took} s (limit ${limit})"
}
said() {  # NAME NEEDLE...: stdout or stderr mentions every NEEDLE
  local name=$1
  shift
  for needle in "$@"; do
    grep -qF -- "$needle" out.txt err.txt || { fail "$name: no '$needle' in: $(cat out.txt err.txt | head -20)"; return; }
  done
  pass "$name"
}
nonzero() { [[ $(cat rc.txt) -ne 0 ]] && pass "$1: exit status $(cat rc.txt)" || fail "$1: exit status 0"; }

timed "no fault" 60 mpi -np 2 "$FAULTS" fine
said "no fault: rank 0 matches one device" "rank 0: ok" "rank 1: ok"
timed "rank 1 stalls in compute" 60 mpi -np 2 "$FAULTS" stall 1 compute
nonzero "rank 1 stalls in compute"
said "rank 0 names the stalled rank 1" "rank 0: error" "waiting for rank 1 (" "nothing within 3 s"
timed "rank 0 stalls before combining" 60 mpi -np 2 "$FAULTS" stall 0 combine
nonzero "rank 0 stalls before combining"
said "rank 1 names the stalled root" "rank 1: error" "rank 0 (root" "nothing within 6 s"
timed "rank 2 of 3 stalls before agreeing" 60 mpi -np 3 "$FAULTS" stall 2 agree
nonzero "rank 2 of 3 stalls before agreeing"
said "rank 0 names rank 2" "waiting for rank 2 (" "nothing within 3 s"
timed "rank 1 dies in compute" 60 mpi -np 2 "$FAULTS" exit 1 compute
nonzero "rank 1 dies in compute"
timed "rank 1 of 3 cannot open its device" 60 mpi -np 3 "$FAULTS" broken 1
[[ $(cat rc.txt) -eq 1 ]] && pass "broken device: every rank exits 1" || fail "broken device: exit status $(cat rc.txt)"
said "broken device: all ranks name rank 1" "rank 0: error: rank 1 (" "rank 1: error: rank 1 (" "rank 2: error: rank 1 (" \
  "simulated: this rank's device is broken"

cli_finish
