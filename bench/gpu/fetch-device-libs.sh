#!/usr/bin/env bash
# Downloads, as .deb files into DIR (default .gpu-debs), what AAT needs on a GPU machine that has
# a driver but no Vulkan loader: libglvnd and friends and libfmt9 from Debian 12, and the Vulkan
# loader and validation layers from Debian 13 (1.4.309), whose layers know VK_KHR_cooperative_matrix
# and VK_NV_cooperative_matrix2 (Debian 12's 1.3.239 flags their structures as unknown). Both
# need glibc <= 2.38 (Ubuntu 24.04 has 2.39). The system's apt configuration is not touched.
# Then, on the GPU machine, from the repository root:   source DIR/on-device.sh DIR
set -euo pipefail
dir=${1:-.gpu-debs}
mkdir -p "$dir"
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
uri=${uri:-http://deb.debian.org/debian}
fetch() {  # fetch SUITE PACKAGE...
  local suite=$1
  shift
  mkdir -p "$state/$suite"/{lists/partial,etc}
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$suite" >"$state/$suite/etc/$suite.sources"
  local o=(-o APT::Architecture=amd64 -o APT::Architectures=amd64 -o "Dir::State::Lists=$state/$suite/lists"
           -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$state/$suite/etc" -o Debug::NoLocking=1)
  [ "$(id -u)" -eq 0 ] && o+=(-o APT::Sandbox::User=root)
  apt-get "${o[@]}" update -qq
  (cd "$dir" && apt-get "${o[@]}" download -qq "$@")
}
rm -f "$dir"/*.deb
fetch bookworm libfmt9 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2 vulkan-tools
fetch trixie libvulkan1 vulkan-validationlayers
cat >"$dir/on-device.sh" <<'SH'
# Source on the GPU machine: unpacks the carried .debs and points the loader at the NVIDIA driver.
dir=${1:-.gpu-debs}
for f in "$dir"/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
SH
# Ignored by git (also in a worktree, where .git is a file).
exclude=$(git rev-parse --git-path info/exclude)
grep -qx "/$dir/" "$exclude" 2>/dev/null || echo "/$dir/" >>"$exclude"
ls "$dir"
