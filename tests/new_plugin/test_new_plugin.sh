#!/usr/bin/env bash
# Adding a plugin touches only its folder: copy the source tree, copy plugins/example to a new
# plugin 'twin' (its files renamed inside that folder only), build the copy (the framework, the
# CLI, the C API, the Python module and the new plugin), and run the new op `twin-scale` through
# the CLI, from C and from Python, without any other file changed.
# Usage: test_new_plugin.sh SOURCE_DIR CMAKE GENERATOR CXX CC LAUNCHER PYTHON_MODULE(ON|OFF)
set -euo pipefail
SRC=${1:?usage: test_new_plugin.sh SOURCE_DIR CMAKE GENERATOR CXX CC LAUNCHER PYTHON_MODULE}
CMAKE=$2 GENERATOR=$3 CXX=$4 CC=$5 LAUNCHER=${6:-} PYTHON_MODULE=${7:-OFF}
source "$SRC/tests/cli/lib.sh"
cli_require_numpy
cli_enter_workdir new_plugin

# 1. The copy: what git tracks (and untracked files it does not ignore), else the folder as it is.
mkdir src
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$SRC" && git ls-files -z -c -o --exclude-standard | tar --null -T - -cf -) | tar -xf - -C src
else
  (cd "$SRC" && tar --exclude='./build*' -cf - .) | tar -xf - -C src
fi
cp -r src/plugins/example src/plugins/twin
mv src/plugins/twin/include/aat/example src/plugins/twin/include/aat/twin
find src/plugins/twin -type f -exec sed -i 's/example/twin/g' {} +
# Nothing outside plugins/twin differs from the original tree.
if (cd src && diff -rq --exclude=twin . "$SRC" 2>/dev/null | grep -v "^Only in $SRC" | grep -q .); then
  fail "files outside plugins/twin changed: $(cd src && diff -rq --exclude=twin . "$SRC" | grep -v "^Only in $SRC" | head -3)"
else
  pass "only plugins/twin was added"
fi

# 2. Build the copy: every host and the new plugin only (AAT_PLUGINS), no tests or benchmarks.
launch=()
[[ -n $LAUNCHER ]] && launch=(-DCMAKE_CXX_COMPILER_LAUNCHER="$LAUNCHER" -DCMAKE_C_COMPILER_LAUNCHER="$LAUNCHER")
export CCACHE_BASEDIR=$WORK  # the copy's paths differ from the original's: let ccache see past them
if ! "$CMAKE" -S src -B build -G "$GENERATOR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX" \
     -DCMAKE_C_COMPILER="$CC" "${launch[@]}" -DAAT_PLUGINS=twin -DAAT_BUILD_TESTS=OFF -DAAT_BUILD_BENCH=OFF \
     -DAAT_BUILD_PYTHON="$PYTHON_MODULE" >configure.txt 2>&1; then
  fail "configure: $(tail -20 configure.txt)"
  cli_finish
fi
targets=(aat_cli aat-twin aat_c)
[[ $PYTHON_MODULE == ON ]] && targets+=(aat_python)
if ! "$CMAKE" --build build --parallel "$(nproc)" --target "${targets[@]}" >build.txt 2>&1; then
  fail "build: $(tail -20 build.txt)"
  cli_finish
fi
pass "the copy builds with plugin 'twin'"

"$PY" -c 'import numpy as np; np.save("x.npy", np.arange(-3, 9, dtype=np.float32).reshape(3, 4))'
want='import numpy as np, sys; y = np.load(sys.argv[1]); x = np.arange(-3, 9, dtype=np.float32).reshape(3, 4)
sys.exit(0 if y.shape == x.shape and np.array_equal(y, np.float32(2.5) * x + np.float32(1)) else 1)'

# 3. The CLI, its options made from the op's signature.
if expect_ok "aat run twin-scale" build/bin/aat run twin-scale --x x.npy --out y_cli.npy --alpha 2.5 --beta 1; then
  "$PY" -c "$want" y_cli.npy && pass "the CLI's output is 2.5 x + 1" || fail "the CLI's output is wrong"
fi
expect_ok "aat plugins lists the op" build/bin/aat plugins --brief && grep -q "op: aat run twin-scale" out.txt \
  || fail "aat plugins does not list twin-scale: $(cat out.txt)"

# 4. C, through aat_op_find / aat_op_run.
cat >host.c <<'C'
#include <aat/aat.h>
#include <stdio.h>
#define CHECK(call) do { if ((call) != AAT_OK) { fprintf(stderr, "%s: %s\n", #call, aat_last_error_message()); return 1; } } while (0)
int main(void) {
  aat_context* ctx = NULL;
  aat_tensor *x = NULL, *y = NULL;
  const aat_op* op = NULL;
  const int64_t shape[1] = {4};
  const float in[4] = {-1.0f, 0.0f, 1.0f, 2.0f};
  float out[4];
  aat_value params[2];
  aat_named_tensor inputs[1];
  aat_op_output outputs[1];
  int i;
  CHECK(aat_context_create(NULL, &ctx));
  CHECK(aat_tensor_create(ctx, AAT_F32, shape, 1, &x));
  CHECK(aat_tensor_upload(x, in, sizeof in));
  CHECK(aat_op_find(ctx, "twin-scale", &op));
  params[0] = aat_value_float("alpha", 2.5);
  params[1] = aat_value_text("beta", "1");
  inputs[0].name = "x";
  inputs[0].tensor = x;
  outputs[0].name = "out";
  outputs[0].tensor = &y;
  CHECK(aat_op_run(ctx, op, inputs, 1, params, 2, outputs, 1, NULL));
  CHECK(aat_tensor_download(y, out, sizeof out));
  for (i = 0; i < 4; ++i)
    if (out[i] != 2.5f * in[i] + 1.0f) return 2;
  aat_tensor_destroy(x);
  aat_tensor_destroy(y);
  aat_context_destroy(ctx);
  return 0;
}
C
c_lib=$(dirname "$(find build -name 'libaat_c.so' | head -1)")
if "$CC" -std=c99 -Wall -Wextra -Werror host.c -Isrc/framework/include -L"$c_lib" -laat_c -Wl,-rpath,"$WORK/$c_lib" \
     -o host >cc.txt 2>&1; then
  expect_ok "C: aat_op_run(twin-scale)" ./host
else
  fail "C host does not compile: $(cat cc.txt)"
fi

# 5. Python, through aat.run.
if [[ $PYTHON_MODULE == ON ]]; then
  expect_ok "Python: aat.run('twin-scale', ...)" env PYTHONPATH=build/python "$PY" -c '
import numpy as np, aat
assert "twin-scale" in [op["name"] for op in aat.ops()], aat.ops()
x = np.load("x.npy")
y = aat.run("twin-scale", x=x, alpha=2.5, beta=1)["out"]
assert np.array_equal(y, np.float32(2.5) * x + np.float32(1)), y
'
fi
cli_finish
