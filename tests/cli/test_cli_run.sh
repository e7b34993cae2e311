#!/usr/bin/env bash
# End-to-end test of `aat run` (and the other subcommands' exit codes).
# Usage: test_cli_run.sh AAT_BINARY SOURCE_DIR
# numpy makes the inputs and checks the outputs; /usr/bin/python3 is the interpreter that has it.
set -euo pipefail

AAT=${1:?usage: test_cli_run.sh AAT_BINARY SOURCE_DIR}
SRC=${2:?usage: test_cli_run.sh AAT_BINARY SOURCE_DIR}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SAXPY="$SRC/examples/shaders/saxpy.comp"

cli_enter_workdir cli_run

"$PY" - <<'EOF'
import numpy as np
rng = np.random.default_rng(7)
np.save("x.npy", rng.standard_normal(1000).astype(np.float32))
np.save("y.npy", rng.standard_normal(1000).astype(np.float32))
np.save("x_i32.npy", np.arange(1000, dtype=np.int32))
np.save("short.npy", np.zeros(3, dtype=np.float32))
EOF

# 1. The documented example: y = 2x + y, the bound input Y read back.
if expect_ok "saxpy f32" "$AAT" run "$SAXPY" --bind X=x.npy --bind Y=y.npy --out Y=y_out.npy \
    --push a=2.0 --push n=1000 --grid 1000; then
  [[ $(wc -l <out.txt) -eq 1 ]] && grep -q "^saxpy on " out.txt \
    || fail "saxpy summary is not one line naming the kernel: $(cat out.txt)"
  "$PY" -c '
import numpy as np, sys
x, y, out = np.load("x.npy"), np.load("y.npy"), np.load("y_out.npy")
sys.exit(0 if out.dtype == np.float32 and out.shape == (1000,) and np.allclose(out, 2 * x + y) else 1)' \
    && pass "saxpy output matches numpy" || fail "saxpy output differs from numpy"
fi

# 2. --json, with a specialization constant changing the local size (and so the workgroups).
if expect_ok "saxpy --json --spec" "$AAT" run "$SAXPY" --bind X=x.npy --bind Y=y.npy --out Y=y_json.npy \
    --push a=-1.5 --push n=1000 --grid 1000 --spec local_size_x=128 --json; then
  "$PY" -c '
import json, sys, numpy as np
r = json.load(open("out.txt"))
assert r["kernel"] == "saxpy", r
assert isinstance(r["device"], str) and r["device"], r
assert isinstance(r["gpu_ms"], (int, float)) and r["gpu_ms"] >= 0, r
assert r["local_size"] == [128, 1, 1], r
assert r["workgroups"] == [8, 1, 1], r
assert r["outputs"]["Y"] == {"path": "y_json.npy", "dtype": "f32", "shape": [1000]}, r
x, y, out = np.load("x.npy"), np.load("y.npy"), np.load("y_json.npy")
assert np.allclose(out, -1.5 * x + y)
' && pass "--json fields and output" || fail "--json output wrong: $(cat out.txt)"
fi

# 3. An output that is not an input: allocated zero-filled from DTYPE:SHAPE (so out = 3x).
if expect_ok "allocated output" "$AAT" run "$SAXPY" --bind X=x.npy --out Y=alloc.npy:f32:1000 \
    --push a=3 --push n=1000 --grid 1000; then
  "$PY" -c '
import numpy as np, sys
out = np.load("alloc.npy")
sys.exit(0 if out.shape == (1000,) and np.allclose(out, 3 * np.load("x.npy")) else 1)' \
    && pass "allocated output matches numpy" || fail "allocated output differs from numpy"
fi

# 4. A shader of our own: -D define, vector push constant, 2-D grid, 2-D allocated output.
cat > grid2d.comp <<'EOF'
#version 450
layout(local_size_x = 8, local_size_y = 4) in;
layout(std430, binding = 0) writeonly buffer OutBuffer { float o[]; } Out;
layout(push_constant) uniform Params { vec2 scale; uvec2 size; } p;
void main() {
  uvec2 g = gl_GlobalInvocationID.xy;
  if (g.x < p.size.x && g.y < p.size.y) Out.o[g.y * p.size.x + g.x] = p.scale.x * float(g.x) + p.scale.y * float(g.y) + OFFSET;
}
EOF
if expect_ok "2-D grid, vector push, -D" "$AAT" run grid2d.comp -D OFFSET=0.5 --out Out=grid.npy:f32:5x20 \
    --push scale=1,100 --push size=20,5 --grid 20,5 --json; then
  "$PY" -c '
import json, numpy as np, sys
r = json.load(open("out.txt"))
assert r["workgroups"] == [3, 2, 1] and r["local_size"] == [8, 4, 1], r
out = np.load("grid.npy")
yy, xx = np.mgrid[0:5, 0:20]
assert out.shape == (5, 20) and np.allclose(out, xx + 100 * yy + 0.5), out
' && pass "2-D output matches numpy" || fail "2-D output wrong"
fi

# 5. SPIR-V input, when a GLSL compiler is around to make it; spec constant set by id.
if command -v glslc >/dev/null; then
  glslc -fshader-stage=compute "$SAXPY" -o saxpy.spv
  if expect_ok "saxpy.spv --spec 0=32" "$AAT" run saxpy.spv --bind X=x.npy --bind Y=y.npy --out Y=y_spv.npy \
      --push a=0.25 --push n=1000 --grid 1000 --spec 0=32 --json; then
    "$PY" -c '
import json, numpy as np
r = json.load(open("out.txt"))
assert r["kernel"] == "saxpy" and r["workgroups"] == [32, 1, 1] and r["local_size"] == [32, 1, 1], r
assert np.allclose(np.load("y_spv.npy"), 0.25 * np.load("x.npy") + np.load("y.npy"))
' && pass "saxpy.spv output matches numpy" || fail "saxpy.spv output wrong"
  fi
else
  echo "skip - no glslc to make a .spv"
fi

# 6. Errors: exit status 1, the binding (member, constant) named on stderr.
expect_error "unknown --bind name" "'Q'" "$AAT" run "$SAXPY" --bind Q=x.npy --bind Y=y.npy --out Y=o.npy \
  --push a=1 --push n=1000 --grid 1000
expect_error "unknown --out name" "'Z'" "$AAT" run "$SAXPY" --bind X=x.npy --bind Y=y.npy --out Z=o.npy \
  --push a=1 --push n=1000 --grid 1000
expect_error "missing binding" "'Y'" "$AAT" run "$SAXPY" --bind X=x.npy --push a=1 --push n=1000 --grid 1000
expect_error "output without dtype/shape" "'Y'" "$AAT" run "$SAXPY" --bind X=x.npy --out Y=o.npy \
  --push a=1 --push n=1000 --grid 1000
expect_error "dtype mismatch" "'X'" "$AAT" run "$SAXPY" --bind X=x_i32.npy --bind Y=y.npy \
  --push a=1 --push n=1000 --grid 1000
cat > vec4.comp <<'EOF2'
#version 450
layout(local_size_x = 1) in;
layout(std430, binding = 0) buffer VecBuffer { vec4 v[]; } V;
void main() { V.v[0] *= 2.0; }
EOF2
expect_error "size not a multiple of the vec4 stride" "'V'" "$AAT" run vec4.comp --bind V=short.npy --out V=v.npy
expect_error "unknown push member" "'m'" "$AAT" run "$SAXPY" --bind X=x.npy --bind Y=y.npy \
  --push a=1 --push m=1000 --grid 1000
expect_error "push value of the wrong type" "--push n" "$AAT" run "$SAXPY" --bind X=x.npy --bind Y=y.npy \
  --push a=1 --push n=1.5 --grid 1000
expect_error "unset push member" "'n'" "$AAT" run "$SAXPY" --bind X=x.npy --bind Y=y.npy --push a=1 --grid 1000
expect_error "unknown spec constant" "'TILE'" "$AAT" run "$SAXPY" --bind X=x.npy --bind Y=y.npy \
  --push a=1 --push n=3 --spec TILE=4
expect_error "missing .npy file" "nope.npy" "$AAT" run "$SAXPY" --bind X=nope.npy --bind Y=y.npy \
  --push a=1 --push n=3
expect_error "bad --grid" "--grid" "$AAT" run "$SAXPY" --bind X=x.npy --bind Y=y.npy --push a=1 --push n=3 \
  --grid 4,x
expect_error "unknown option" "--bogus" "$AAT" run "$SAXPY" --bogus
expect_error "not a shader, not a plugin" "no_such_command" "$AAT" run no_such_command --whatever
expect_error "no target" "run" "$AAT" run

# 7. Help and the other subcommands.
if expect_ok "aat run --help" "$AAT" run --help; then
  for word in --bind --out --push --spec --grid --json saxpy.comp; do
    grep -qF -- "$word" out.txt || fail "aat run --help does not mention $word"
  done
fi
expect_ok "aat run FILE --help" "$AAT" run "$SAXPY" --help
expect_ok "aat --help" "$AAT" --help
expect_ok "aat devices" "$AAT" devices
if expect_ok "aat reflect --json" "$AAT" reflect "$SAXPY" --json; then
  "$PY" -c 'import json; r = json.load(open("out.txt")); assert [b["name"] for b in r["bindings"]] == ["X", "Y"], r' \
    && pass "reflect --json parses" || fail "reflect --json output: $(cat out.txt)"
fi

# reflect --statistics: the driver's view of the pipeline built with the --spec values, or an error
# naming the device where the driver reports none (lavapipe); --spec alone is refused.
expect_error "reflect --spec without --statistics" "--spec is for --statistics" \
  "$AAT" reflect "$SAXPY" --spec local_size_x=128
expect_error "reflect --statistics with an unknown constant" "nope" \
  "$AAT" reflect "$SAXPY" --statistics --spec nope=1
rc=0
"$AAT" reflect "$SAXPY" --statistics --spec local_size_x=128 >out.txt 2>err.txt || rc=$?
if [[ $rc -eq 0 ]]; then
  grep -q "^driver statistics:" out.txt && pass "reflect --statistics prints the driver's statistics" \
    || fail "reflect --statistics output: $(cat out.txt)"
elif [[ $rc -eq 1 ]] && grep -qF "does not report pipeline statistics" err.txt; then
  pass "reflect --statistics names the device without pipeline statistics ($(cat err.txt))"
else
  fail "reflect --statistics: exit status $rc (stderr: $(cat err.txt))"
fi

cli_finish
