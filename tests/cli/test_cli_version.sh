#!/usr/bin/env bash
# `aat version [--json]` and the kernel families in `aat devices --json` (issue 13), and the
# runtime compiler's error for a shader using an extension newer than it.
#   test_cli_version.sh AAT_BINARY SOURCE_DIR
set -uo pipefail
aat=$1
src=$2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_require_numpy
cli_enter_workdir cli_version

expect_ok "version prints text" "$aat" version
grep -q "kernel families compiled in: scalar" out.txt && pass "text names the families" || fail "text: $(cat out.txt)"

expect_ok "version --json" "$aat" version --json
"$PY" - <<'PY' && pass "version --json has every key" || fail "version --json: $(cat out.txt)"
import json
v = json.load(open("out.txt"))
assert set(v) >= {"version", "shader_compiler", "runtime_compiler", "kernel_families"}, v.keys()
assert v["shader_compiler"]["name"] in ("glslc", "glslang") and v["shader_compiler"]["version"]
assert v["runtime_compiler"]["name"] == "shaderc" and v["runtime_compiler"]["version"]
known = {"scalar", "coopmat_nv", "coopmat_khr", "coopmat2"}
assert v["kernel_families"][0] == "scalar" and set(v["kernel_families"]) <= known, v["kernel_families"]
# Whatever the build compiled, one of its compilers could compile it.
able = set().union(*(set(c["families"]) for c in v["shader_compilers"]))
assert set(v["kernel_families"]) <= able, (v["kernel_families"], able)
PY

expect_ok "devices --json" "$aat" devices --json
"$PY" - <<'PY' && pass "every device lists the kernel families it runs" || fail "devices --json: $(cat out.txt)"
import json
for d in json.load(open("out.txt")):
    fam = d["kernel_families"]
    assert fam[0] == "scalar", fam
    assert ("coopmat2" in fam) == all(v for k, v in d["features"]["cooperative_matrix2"].items()
                                       if k != "workgroup_scope_max_workgroup_size"), d
PY

cat > newer.comp <<'GLSL'
#version 450
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
layout(local_size_x = 32) in;
void main() {}
GLSL
expect_error "an extension newer than the runtime compiler is named with the glslang it needs" \
  "does not know GL_NV_cooperative_matrix2, which needs glslang >= 15.1.0" "$aat" reflect newer.comp

cli_finish
