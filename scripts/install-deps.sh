#!/usr/bin/env bash
# Installs exactly the Debian 12 packages AAT builds, tests and runs with.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config
  # Vulkan: headers incl. vulkan_raii.hpp, loader, lavapipe (CPU device), validation layers, vulkaninfo
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  # shaders: shaderc (linked statically, see docs/architecture.md), glslc, glslang, SPIRV-Tools
  libshaderc-dev glslc glslang-dev glslang-tools spirv-tools
  # reflection: also installs SPIRV-Cross's static C++ libraries and CMake configs
  libspirv-cross-c-shared-dev
  # libraries
  libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
  # reference data and checks
  python3-numpy
  # the Python module (python/): headers and pybind11
  python3-dev pybind11-dev
  # the distributed plugin (plugins/distributed): Open MPI, mpirun for its tests
  openmpi-bin libopenmpi-dev
)

# `install-deps.sh --hardening` adds what scripts/ci-hardening.sh needs on top (docs/reliability.md):
# clang 16 and its libFuzzer/sanitizer runtimes for the fuzz targets (clang 14 cannot compile
# libstdc++ 12's std::expected). The sanitizer build itself uses g++'s runtimes (libasan, libubsan).
if [ "${1:-}" = "--hardening" ]; then
  packages+=(clang-16 libclang-rt-16-dev)
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# A shader compiler that knows GL_KHR_cooperative_matrix and GL_NV_cooperative_matrix2 (the
# coopmat_khr and coopmat2 kernel families): the system's glslang when it is >= 15.1, else
# glslang built once from Debian 13's source into ~/.cache/aat/toolchain (scripts/build-glslang.sh).
glslang_ok() {
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/^Glslang Version: [0-9]*:\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  [ -n "$v" ] && set -- $v && { [ "$1" -gt 15 ] || { [ "$1" -eq 15 ] && [ "$2" -ge 1 ]; }; }
}
if command -v glslang >/dev/null 2>&1 && glslang_ok "$(command -v glslang)"; then
  echo "install-deps: system glslang is new enough for coopmat2"
else
  "$(dirname "$0")/build-glslang.sh"
fi
