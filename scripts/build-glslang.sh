#!/usr/bin/env bash
# Builds glslang's standalone compiler (>= 15.1: GL_KHR_cooperative_matrix and
# GL_NV_cooperative_matrix2) from Debian 13's source package, for systems whose own glslang is
# older (Debian 12 has 12.0). The result lives in a cache folder outside any build tree and is
# reused when present; CMake (cmake/AatShaderCompiler.cmake) finds it there without flags:
#
#   ${AAT_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aat/toolchain}/glslang/bin/glslang
#
# The system's apt configuration is never changed: a private apt state folder gets one deb-src
# entry for trixie, on the mirror the system's own sources name. ~75 s on 2 cores.
#   scripts/build-glslang.sh          build unless a working compiler is already cached
#   scripts/build-glslang.sh --force  rebuild
set -euo pipefail

root=${AAT_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aat/toolchain}
prefix=$root/glslang
suite=trixie

die() {
  echo "build-glslang: $*" >&2
  echo "build-glslang: instead, install glslang >= 15.1 (Debian 13's glslang-tools, a Vulkan SDK) and put" \
       "'glslang' on PATH, or configure with -DAAT_GLSLANG=/path/to/glslang" >&2
  exit 1
}

if [ "${1:-}" != "--force" ] && [ -x "$prefix/bin/glslang" ] && "$prefix/bin/glslang" --version >/dev/null 2>&1; then
  echo "build-glslang: cached $("$prefix/bin/glslang" --version | head -n 1) in $prefix"
  exit 0
fi

# The mirror: the first deb URI of the system's own sources (deb822 or one-line format).
mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; ++i) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || die "found no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"

work=$(mktemp -d "${TMPDIR:-/tmp}/aat-glslang.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{lists/partial,cache/archives/partial,etc/sources.list.d}
printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  "$mirror" "$suite" > "$work/etc/sources.list.d/$suite-src.sources"
apt_options=(-o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::Etc::SourceList=/dev/null"
             -o "Dir::Etc::SourceParts=$work/etc/sources.list.d" -o "Debug::NoLocking=1")
# As root, apt downloads as the _apt user, which cannot write into a private mktemp folder.
if [ "$(id -u)" -eq 0 ]; then apt_options+=(-o "APT::Sandbox::User=root"); fi

echo "build-glslang: fetching the $suite source package of glslang from $mirror"
apt-get "${apt_options[@]}" -qq update || die "apt-get update of the $suite source index failed"
(cd "$work" && apt-get "${apt_options[@]}" -qq source --download-only glslang) ||
  die "downloading the glslang source package failed"
# Upstream source only: Debian's patches assume the SPIRV-Tools-based optimizer this build omits.
orig=$(ls "$work"/glslang_*.orig.tar.* 2>/dev/null | head -n 1)
[ -n "$orig" ] || die "the source package has no .orig tarball"
mkdir -p "$work/src"
tar -xf "$orig" -C "$work/src" --strip-components=1 || die "cannot unpack $orig"

echo "build-glslang: building $(basename "$orig" | sed 's/\.orig.*//') (standalone compiler only)"
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DENABLE_OPT=OFF -DGLSLANG_TESTS=OFF \
      -DBUILD_TESTING=OFF -DENABLE_GLSLANG_BINARIES=ON -DCMAKE_INSTALL_PREFIX="$prefix" >"$work/configure.log" 2>&1 ||
  { tail -n 30 "$work/configure.log" >&2; die "configuring glslang failed (log above)"; }
cmake --build "$work/build" --target glslang-standalone --parallel "$jobs" >"$work/build.log" 2>&1 ||
  { tail -n 30 "$work/build.log" >&2; die "building glslang failed (log above)"; }

rm -rf "$prefix.new"
mkdir -p "$prefix.new/bin"
cp "$work/build/StandAlone/glslang" "$prefix.new/bin/glslang"
"$prefix.new/bin/glslang" --version >/dev/null || die "the built compiler does not run"
rm -rf "$prefix"
mv "$prefix.new" "$prefix"
echo "build-glslang: $("$prefix/bin/glslang" --version | head -n 1) in $prefix"
