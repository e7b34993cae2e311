#!/usr/bin/env bash
# Installs the build into a temporary prefix and proves a consumer outside the source tree can
# use it, with AAT_PLUGIN_PATH unset throughout:
#   1. the layout (headers, libraries, plugins, CLI, CMake config, pkg-config, shaders);
#   2. the installed CLI finds the installed plugins;
#   3. examples/cpp_host: find_package(aat) + aat::aat + aat::attention, built and run;
#   4. examples/c_host: pkg-config aat-c (CMake and plain cc) and find_package + aat::c, built and run;
#   5. the installed Python package (when built): attention against NumPy.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR CMAKE GENERATOR [PYTHON]
set -euo pipefail
build=$1 source=$2 cmake=$3 generator=$4 python=${5:-}
unset AAT_PLUGIN_PATH AAT_SHADER_DIR

work=$(mktemp -d "${TMPDIR:-/tmp}/aat-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
step() { echo "== $*"; }

step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" > "$work/install.log"

step "layout"
libdir=${AAT_INSTALL_LIBDIR:-lib}                          # CMAKE_INSTALL_LIBDIR, relative to the prefix
pythondir=${AAT_INSTALL_PYTHONDIR:-lib/python3/dist-packages}
for f in bin/aat "$libdir/libaat.so" "$libdir/libaat_c.so" "$libdir/libaat_plugin_attention.a" \
         "$libdir/aat/plugins/libaat-attention.so" include/aat/aat.hpp include/aat/aat.h \
         include/aat/attention/attention.hpp "$libdir/cmake/aat/aatConfig.cmake" \
         "$libdir/cmake/aat/aatConfigVersion.cmake" "$libdir/pkgconfig/aat.pc" "$libdir/pkgconfig/aat-c.pc" \
         share/aat/shaders/aat/constants.glsl; do
  [ -e "$prefix/$f" ] || { echo "missing from the install: $f"; exit 1; }
done
# Every plugin of the build is installed.
for plugin in "$build"/plugins/libaat-*.so; do
  [ -e "$prefix/$libdir/aat/plugins/$(basename "$plugin")" ] || { echo "plugin not installed: $plugin"; exit 1; }
done
# Nothing installed points back into the build tree.
if grep -rl --include="*.cmake" --include="*.pc" "$source" "$prefix" ; then
  echo "installed package files name the source or build tree"; exit 1
fi
version=$(sed -n 's/^project(aat VERSION \([0-9.]*\).*/\1/p' "$source/CMakeLists.txt")
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
[ "$(pkg-config --modversion aat)" = "$version" ] || { echo "aat.pc version is not $version"; exit 1; }
[ "$(pkg-config --modversion aat-c)" = "$version" ] || { echo "aat-c.pc version is not $version"; exit 1; }

step "installed CLI"
"$prefix/bin/aat" plugins --brief | tee "$work/plugins.txt"
grep -q attention "$work/plugins.txt" || { echo "the installed CLI does not list the attention plugin"; exit 1; }
grep -q "$prefix/$libdir/aat/plugins" "$work/plugins.txt" || { echo "the installed CLI does not search $prefix/$libdir/aat/plugins"; exit 1; }
if grep -q "$build" "$work/plugins.txt"; then echo "the installed CLI loads plugins from the build tree"; exit 1; fi

step "examples/cpp_host (find_package, aat::aat + aat::attention)"
"$cmake" -S "$source/examples/cpp_host" -B "$work/cpp_host" -G "$generator" -DCMAKE_PREFIX_PATH="$prefix" \
         -DCMAKE_BUILD_TYPE=Release > "$work/cpp_host.log" || { cat "$work/cpp_host.log"; exit 1; }
"$cmake" --build "$work/cpp_host" >> "$work/cpp_host.log" || { cat "$work/cpp_host.log"; exit 1; }
"$work/cpp_host/cpp_host" | tee "$work/cpp_host.out"
grep -q "plugin attention .*($prefix/$libdir/aat/plugins/" "$work/cpp_host.out" \
  || { echo "cpp_host did not load the installed attention plugin"; exit 1; }
grep -q "$prefix/share/aat/shaders" "$work/cpp_host.out" \
  || { echo "cpp_host did not use the installed shader headers"; exit 1; }

step "examples/c_host (pkg-config aat-c, CMake)"
"$cmake" -S "$source/examples/c_host" -B "$work/c_host" -G "$generator" -DCMAKE_PREFIX_PATH="$prefix" \
         > "$work/c_host.log" || { cat "$work/c_host.log"; exit 1; }
"$cmake" --build "$work/c_host" >> "$work/c_host.log" || { cat "$work/c_host.log"; exit 1; }
"$work/c_host/c_host"

step "examples/c_host (pkg-config aat-c, plain cc)"
cc -std=c99 -Wall -Wextra -Werror "$source/examples/c_host/main.c" $(pkg-config --cflags --libs aat-c) -lm \
   -Wl,-rpath,"$prefix/$libdir" -o "$work/c_host_cc"
"$work/c_host_cc"

step "examples/c_host (find_package, aat::c)"
"$cmake" -S "$source/examples/c_host" -B "$work/c_host_fp" -G "$generator" -DCMAKE_PREFIX_PATH="$prefix" \
         -DAAT_C_HOST_FIND_PACKAGE=ON > "$work/c_host_fp.log" || { cat "$work/c_host_fp.log"; exit 1; }
"$cmake" --build "$work/c_host_fp" >> "$work/c_host_fp.log" || { cat "$work/c_host_fp.log"; exit 1; }
"$work/c_host_fp/c_host"

if [ -n "$python" ]; then
  step "installed Python package"
  PYTHONPATH=$prefix/$pythondir "$python" - "$prefix" <<'PY'
import sys, numpy as np, aat
prefix = sys.argv[1]
assert aat.__file__.startswith(prefix), f"imported {aat.__file__}, not the installed package under {prefix}"
rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal((1, 2, 24, 32)).astype(np.float32) for _ in range(3))
o = aat.attention(q, k, v, causal=True)
s = np.einsum("bhid,bhjd->bhij", q.astype(np.float64), k.astype(np.float64)) / np.sqrt(32)
s = np.where(np.tril(np.ones((24, 24), bool)), s, -np.inf)
p = np.exp(s - s.max(-1, keepdims=True)); p /= p.sum(-1, keepdims=True)
err = np.abs(o - p @ v.astype(np.float64)).max()
assert err < 1e-5, err
names = [p["name"] for p in aat.plugins()]
assert "attention" in names and all(p["path"].startswith(prefix) for p in aat.plugins()), aat.plugins()
print(f"installed python: aat {aat.__version__} on {aat.default_context().name}: max error {err:.2e}; plugins {names}")
PY
fi
echo "install_consumers: ok"
