#!/usr/bin/env bash
# Seed corpora for the fuzz targets (docs/reliability.md), made from the repository's own test
# inputs and shaders:  fuzz/make_corpus.sh OUT   ->  OUT/<target>/...
#   npy                tests/data/npy/*.npy (valid, truncated, big-endian, Fortran, f64, ...)
#   glsl               every compute shader of examples/ and plugins/, preprocessed (includes inlined)
#   spirv              the same shaders compiled by glslc, optimised and not; kernels glslc cannot
#                      compile (coopmat_khr, coopmat2) by the build's glslang >= 15.1 when found
#                      (AAT_GLSLANG, else scripts/build-glslang.sh's cache), so the fuzzer also
#                      reaches the interface-only reduction of modules newer than SPIRV-Tools
#   value              --push/--spec texts of every form the parser knows, for every ScalarType
#   plugin_descriptor  a well-formed descriptor around each SPIR-V seed (fuzz/targets.cpp's layout)
# Needs glslc and python3 (scripts/install-deps.sh installs both).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: fuzz/make_corpus.sh OUT_DIR}
mkdir -p "$out"/{npy,glsl,spirv,value,plugin_descriptor}

cp "$src"/tests/data/npy/*.npy "$out/npy/"

glslang=${AAT_GLSLANG:-${AAT_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aat/toolchain}/glslang/bin/glslang}
[ -x "$glslang" ] || glslang=""

for shader in "$src"/examples/shaders/*.comp "$src"/plugins/*/shaders/*.comp "$src"/tests/shaders/*.comp; do
  folder=$(basename "$(dirname "$(dirname "$shader")")")
  name="$folder-$(basename "$shader" .comp)"
  includes=(-I "$src/shaders" -I "$(dirname "$shader")")
  # A shader that does not compile (work in progress elsewhere) is skipped, not fatal.
  if ! glslc --target-env=vulkan1.2 -fshader-stage=compute -O -g "${includes[@]}" -o "$out/spirv/$name.spv" \
         "$shader" 2>/dev/null; then
    # glslang takes -I<dir> as one argument.
    glslang_includes=("-I$src/shaders" "-I$(dirname "$shader")")
    if [ -n "$glslang" ] && "$glslang" -V --target-env vulkan1.3 -S comp --quiet "${glslang_includes[@]}" \
         -o "$out/spirv/$name.spv" "$shader" >/dev/null 2>&1; then
      "$glslang" -E -S comp "${glslang_includes[@]}" "$shader" >"$out/glsl/$name.comp" 2>/dev/null ||
        rm -f "$out/glsl/$name.comp"
      continue
    fi
    echo "make_corpus: skipping $shader (neither glslc nor a glslang >= 15.1 compiles it)"
    continue
  fi
  glslc --target-env=vulkan1.2 -fshader-stage=compute -O0 "${includes[@]}" -o "$out/spirv/$name-O0.spv" "$shader" \
    2>/dev/null
  glslc --target-env=vulkan1.2 -fshader-stage=compute -E "${includes[@]}" -o "$out/glsl/$name.comp" "$shader" \
    2>/dev/null
done

python3 - "$out" <<'EOF'
import os, struct, sys
out = sys.argv[1]
# ScalarType order in framework/include/aat/reflect.hpp: the first byte of a value input.
types = ["boolean", "i8", "u8", "i16", "u16", "f16", "i32", "u32", "f32", "i64", "u64", "f64", "structure", "unknown"]
texts = {
    "boolean": ["true", "false", "1", "0", "true,false"],
    "int": ["12", "-3", "0x10", "+7", " 5 ", "1,2,3", "-0", "0xFFFFFFFF", "9223372036854775807",
            "-9223372036854775808", "18446744073709551615", "255", "-128", "65535"],
    "float": ["1.5", "1e-3", "inf", "-inf", "nan", "65504", "3.4e38", "0x1p-3", "1,2.5,-3", "-0.0"],
}
n = 0
for index, name in enumerate(types):
    kind = "boolean" if name == "boolean" else "float" if name.startswith("f") else "int"
    for text in texts.get(kind, texts["int"]):
        with open(os.path.join(out, "value", f"{name}-{n}"), "wb") as f:
            f.write(bytes([index]) + text.encode())
        n += 1

def string8(text):
    data = text.encode()
    return bytes([len(data)]) + data

# fuzz/targets.cpp plugin_descriptor layout: flags, name, version, description (u16 length),
# kernel count, per kernel (flags, name, source, u16 word count, words), command count,
# per command (flags, name, summary).
spirv_dir = os.path.join(out, "spirv")
for spv in sorted(os.listdir(spirv_dir)):
    words = open(os.path.join(spirv_dir, spv), "rb").read()
    if len(words) // 4 > 0xFFFF:
        continue
    base = os.path.splitext(spv)[0]
    seed = bytes([0]) + string8("fuzz") + string8("0.1.0") + struct.pack("<H", 4) + b"desc"
    seed += bytes([1]) + bytes([0]) + string8(base[:100]) + string8(base[:100] + ".comp")
    seed += struct.pack("<H", len(words) // 4) + words
    seed += bytes([1]) + bytes([0]) + string8("run-it") + string8("runs it")
    with open(os.path.join(out, "plugin_descriptor", base), "wb") as f:
        f.write(seed)
EOF
for target in npy glsl spirv value plugin_descriptor; do
  echo "corpus $target: $(ls "$out/$target" | wc -l) seeds"
done
