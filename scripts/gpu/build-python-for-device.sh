#!/usr/bin/env bash
# Builds the aat Python module here for ANOTHER machine's Python (the GPU machine's 3.12 with
# PyTorch, where nothing can be compiled against our toolchain), from that machine's headers:
#
#   on the GPU machine:  tar -czf $OUT/py.tgz -C /usr/include python3.12 x86_64-linux-gnu/python3.12
#                        tar -czf $OUT/pybind11.tgz -C $(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')/include pybind11
#   here:                scripts/gpu/build-python-for-device.sh build py.tgz pybind11.tgz 3.12 [.pybuild]
#   there (carry .pybuild, .gpu-bundle, .gpu-debs):
#                        LD_LIBRARY_PATH=.gpu-bundle/lib PYTHONPATH=.pybuild python3 tests/python/check_sdpa_against_torch.py -v
#
# Compiles python/src/module.cpp with the build's own flags (from ninja) against those headers
# and links it like the build's module (the build's static plugin libraries, libaat, fmt).
set -euo pipefail
build=$(realpath "${1:?build folder}")
py_headers=$(realpath "${2:?tarball of /usr/include/pythonX.Y and its x86_64-linux-gnu/pythonX.Y}")
pybind=$(realpath "${3:?tarball of a pybind11 include folder}")
version=${4:?Python version, e.g. 3.12}
out=${5:-.pybuild}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$py_headers" -C "$work"
tar -xzf "$pybind" -C "$work"
compile=$(cd "$build" && ninja -t commands aat_python | grep -- "-c .*/python/src/module.cpp" | tail -1)
[ -n "$compile" ] || { echo "no compile command for python/src/module.cpp in $build (configure with the Python module)" >&2; exit 1; }
compile=$(sed -e "s|-isystem /usr/include/python3[.0-9]*|-isystem $work/python$version -isystem $work -I$work|" \
              -e 's|-MD -MT [^ ]* -MF [^ ]*||' -e "s|-o [^ ]*module.cpp.o|-o $work/module.o|" -e 's|^ccache ||' <<<"$compile")
(cd "$build" && eval "$compile")
link=$(cd "$build" && ninja -t commands aat_python | grep -- "-shared" | tail -1)
objects=$(grep -o '[^ ]*embed.cpp.o' <<<"$link")
libraries=$(grep -oE '[^ ]*(\.a|libaat\.so[.0-9]*|libfmt\.so[.0-9]*)' <<<"$link" | tr '\n' ' ')
rm -rf "$out" && mkdir -p "$out/aat"
suffix=cpython-${version/./}-x86_64-linux-gnu.so
(cd "$build" && c++ -fPIC -O2 -Wl,--exclude-libs,ALL -shared -o "$OLDPWD/$out/aat/_aat.$suffix" $objects "$work/module.o" $libraries)
strip "$out/aat/_aat.$suffix"
cp python/aat/*.py "$out/aat/"
exclude=$(git rev-parse --git-path info/exclude)
grep -qx "/$out/" "$exclude" 2>/dev/null || echo "/$out/" >>"$exclude"
echo "$out/aat/_aat.$suffix"
