#!/usr/bin/env bash
# Downloads Open MPI 4.1 (Debian 12's openmpi-bin and libopenmpi3) and the libraries they need
# as .deb files into DIR (default .mpi-debs), so they can travel to a GPU machine that has no
# MPI (docs/performance.md, "Several GPUs"). The C/C++ runtime (libc6, libstdc++6, libgcc-s1,
# zlib1g) is left out: the GPU machine's own, newer, are the ones to use.
# Run from the project root (.gitignore ignores .mpi-debs/).
#
# There, unpack into a folder of its own (never /) and point Open MPI at it:
#   prefix=/tmp/ompi; mkdir -p $prefix; for f in DIR/*.deb; do dpkg -x "$f" $prefix; done
#   export OPAL_PREFIX=$prefix/usr PATH=$prefix/usr/bin:$PATH
#   export LD_LIBRARY_PATH=$prefix/usr/lib/x86_64-linux-gnu/openmpi/lib:$prefix/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
#   orterun --version    # `mpirun` is a Debian alternatives link dpkg -x does not make; orterun is the program
# (bench/multi_gpu.sh does exactly this.)
set -euo pipefail
dir=${1:-.mpi-debs}
mkdir -p "$dir" /tmp/aat-apt-lists/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/aat-apt-lists'
apt-get $o update -qq
# openmpi-bin's and libopenmpi3's dependency closure (apt-cache depends --recurse) without the
# C runtime, the tools of a Debian system (dpkg, adduser, ssh: one host needs no remote start)
# and hwloc's optional plugins (X11, OpenCL, libxml2).
packages=(
  openmpi-bin openmpi-common libopenmpi3
  libpmix2 libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7 libmunge2
  libfabric1 libucx0 libibverbs1 ibverbs-providers librdmacm1 libnl-3-200 libnl-route-3-200
  libpsm2-2 libpsm-infinipath1 libnuma1 libatomic1 libudev1 libuuid1
)
( cd "$dir" && apt-get $o download -qq "${packages[@]}" )
ls "$dir"
du -sh "$dir"
