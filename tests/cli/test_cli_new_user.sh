#!/usr/bin/env bash
# What a new user hits (issue 18): typos, bad generator arguments, clamped and refused options,
# help texts, shader runs past the end of an array, oversized .npy files, progress on stderr.
# Usage: test_cli_new_user.sh AAT_BINARY SOURCE_DIR
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_start cli_new_user "$@"

lavapipe=0
"$AAT" devices 2>/dev/null | grep '^\*' | grep -q llvmpipe && lavapipe=1

# --- "did you mean" ---------------------------------------------------------------------------
expect_error "mistyped command" "did you mean 'run'?" "$AAT" rn attention
expect_error "mistyped command after --device" "did you mean 'devices'?" "$AAT" --device 0 devcies
expect_error "mistyped plugin command" "did you mean 'attention'?" "$AAT" run attentoin --q q.npy

# --- input generators validate their arguments -------------------------------------------------
check_generator_error() {  # NAME NEEDLE ARGS...: exit status neither 0 nor a crash, NEEDLE on stderr
  local name=$1 needle=$2 rc=0
  shift 2
  "$AAT" run attention-inputs --prefix g_ "$@" >out.txt 2>err.txt || rc=$?
  if [[ $rc -eq 0 || $rc -ge 128 ]]; then
    fail "$name: exit status $rc (stderr: $(cat err.txt))"
  elif ! grep -qF -- "$needle" err.txt; then
    fail "$name: stderr does not mention '$needle': $(cat err.txt)"
  elif grep -qE "bad_alloc|max_size|std::" err.txt; then
    fail "$name: a C++ library message leaked: $(cat err.txt)"
  else
    pass "$name"
  fi
}
check_generator_error "attention-inputs --length -5" "--length" --length -5
check_generator_error "attention-inputs --heads 0" "--heads" --heads 0
check_generator_error "attention-inputs --length 100000000" "2^31 elements" --length 100000000
check_generator_error "attention-inputs --batch 70000 --length 70000" "2^31 elements" --batch 70000 --length 70000

# --- options that are clamped say so; overrides that would be wrong are refused ----------------
"$AAT" run attention-inputs --kind gaussian --length 128 --prefix s_ >/dev/null
if expect_ok "--splits 100000" "$AAT" run attention --q s_q.npy --k s_k.npy --v s_v.npy --out o.npy --splits 100000; then
  grep -q "note: --splits 100000 clamped to 4" err.txt && pass "the clamp is reported" \
    || fail "the clamp is not reported: $(cat err.txt)"
fi
expect_error "--splits 0" "at least 1" "$AAT" run attention --q s_q.npy --k s_k.npy --v s_v.npy --out o.npy --splits 0
if [[ $lavapipe -eq 1 ]]; then
  "$AAT" run attention-inputs --kind gaussian --length 4096 --prefix l_ >/dev/null
  expect_error "--splits 1 at N = 4096 on lavapipe" "65535 loop iterations" \
    "$AAT" run attention --q l_q.npy --k l_k.npy --v l_v.npy --out o.npy --causal --splits 1
fi

# --- help texts --------------------------------------------------------------------------------
commands=$("$AAT" plugins 2>/dev/null | sed -n 's/^ *\(command\|op\): aat run \([^ ]*\).*/\2/p')
[[ $(wc -w <<<"$commands") -ge 8 ]] || fail "aat plugins lists too few commands: $commands"
for command in $commands; do
  rc=0
  "$AAT" run "$command" --help >help.txt 2>&1 || rc=$?
  if [[ $rc -ne 0 ]] || ! grep -q "^Usage:" help.txt; then
    fail "help of $command: exit status $rc: $(head -3 help.txt)"
  elif grep -qE '\{(true|false)\}' help.txt; then
    fail "help of $command shows a flag default: $(grep -E '\{(true|false)\}' help.txt)"
  else
    pass "help of $command"
  fi
done

# --- shader runs read 0 past the end of an array (robust buffer access) ------------------------
"$PY" -c '
import numpy as np
np.save("x10.npy", np.arange(1, 11, dtype=np.float32))
np.save("y1000.npy", np.ones(1000, dtype=np.float32))'
if expect_ok "saxpy with 10-element X and n = 1000" "$AAT" run "$SRC/examples/shaders/saxpy.comp" --bind X=x10.npy \
    --bind Y=y1000.npy --out Y=y_out.npy --push a=2 --push n=1000 --grid 1000 --json; then
  check "reads past X's end give 0 (lavapipe) or a value of X, never another buffer's" "
import json, numpy as np
report = json.load(open('out.txt'))
assert report['robust_buffer_access'] is True, report
y = np.load('y_out.npy')
assert np.array_equal(y[:10], 2 * np.arange(1, 11) + 1), y[:10]
allowed = {1.0} | {float(2 * x + 1) for x in range(1, 11)}
assert set(np.unique(y[10:]).tolist()) <= allowed, np.unique(y[10:])
if $lavapipe: assert np.all(y[10:] == 1), np.unique(y[10:])"
fi

# --- an oversized .npy is refused from its header, before it is read -------------------------
# 8 GiB of holes: reading it whole would take a minute and 8 GiB of memory; the refusal must not.
# lavapipe allocates at most 2 GiB at once (a GPU may hold the file: then nothing is refused).
if [[ $lavapipe -eq 1 ]]; then
"$PY" -c '
import numpy as np
with open("big.npy", "wb") as f:
    np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (1, 1, 2**25, 64)})
    f.truncate(f.tell() + 4 * 2**31)'
start=$(date +%s)
expect_error "attention with an 8 GiB q.npy" "big.npy" \
  timeout 60 "$AAT" run attention --q big.npy --k s_k.npy --v s_v.npy --out o.npy
grep -q "f32\[1x1x33554432x64\]" err.txt && pass "the refusal names the array's shape" \
  || fail "the refusal does not name the shape: $(cat err.txt)"
expect_error "shader run with an 8 GiB --bind" "big.npy" \
  timeout 60 "$AAT" run "$SRC/examples/shaders/saxpy.comp" --bind X=big.npy --bind Y=y1000.npy --out Y=y.npy \
  --push a=1 --push n=1 --grid 1
(( $(date +%s) - start < 20 )) && pass "both refused within seconds" || fail "refusing took $(( $(date +%s) - start )) s"
rm -f big.npy
fi

# --- progress on stderr for runs over a second ------------------------------------------------
[[ -f l_q.npy ]] || "$AAT" run attention-inputs --kind gaussian --length 4096 --prefix l_ >/dev/null
long_run=("$AAT" run attention --q l_q.npy --k l_k.npy --v l_v.npy --out o.npy --causal --json)
if expect_ok "--progress --json" "${long_run[@]}" --progress; then
  check "--json stdout stays pure JSON" "import json; json.load(open('out.txt'))"
  grep -q "^aat: attention: attention on .*elapsed" err.txt && grep -q "^aat: attention: finished after" err.txt \
    && pass "stages and elapsed time on stderr" || fail "no progress on stderr: $(cat err.txt)"
fi
if expect_ok "--quiet --progress" "${long_run[@]}" --quiet --progress; then
  [[ ! -s err.txt ]] && pass "--quiet silences progress" || fail "--quiet printed: $(cat err.txt)"
fi
if expect_ok "no terminal, no --progress" "${long_run[@]}"; then
  [[ ! -s err.txt ]] && pass "no progress when stderr is no terminal" || fail "printed: $(cat err.txt)"
fi

cli_finish
