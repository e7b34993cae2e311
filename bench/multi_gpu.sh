#!/usr/bin/env bash
# Multi-GPU scaling of attention (docs/performance.md, "Several GPUs"): exact attention, causal
# and not, N = 32k, 64k, 128k (B 1, H 16, D 128, f16) on 1 and 2 GPUs in one run, in one process
# (divided by heads and by keys) and over MPI (mpirun -np 1 and -np 2, one GPU per rank), and
# adaptive attention at N = 64k; JSON, a table and a plot.
#
#   bench/multi_gpu.sh bundle [BUILD] [BUNDLE]   here: copy bench_multi_gpu and the shared
#                                                libraries it needs into BUNDLE (default
#                                                build-multigpu, ignored by git), stripped
#   bench/multi_gpu.sh run [BUNDLE]              on the 2-GPU machine: results to $OUT (or ./multi-gpu-out)
#
# The GPU machine has the NVIDIA driver but neither a Vulkan loader nor MPI: carry the loader's
# .debs (../shared/gpu/fetch-loader.sh .gpu-debs) and Open MPI's (scripts/gpu/fetch-mpi.sh
# .mpi-debs). The loader is unpacked into / as ../shared/gpu/on-device.sh does; Open MPI into
# a prefix of its own (/tmp/ompi) with PATH, LD_LIBRARY_PATH and OPAL_PREFIX pointing there.
# Environment: SIZES (32768,65536,131072), REPS (3), ADAPTIVE (65536), MODES (heads,keys),
# DEVICES (0,1: the in-process run's devices).
# The three steps are bounded at 300 + 140 + 140 s, inside the device tool's 10 minutes a call.
set -uo pipefail
cmd=${1:-run}

if [[ $cmd == bundle ]]; then
  set -e
  build=${2:-build}
  bundle=${3:-build-multigpu}
  mkdir -p "$bundle/bin" "$bundle/lib"
  cp "$build/bin/bench_multi_gpu" "$bundle/bin/"
  cp -L "$build/framework/libaat.so.0" "$bundle/lib/"
  strip --strip-debug "$bundle/bin/bench_multi_gpu" "$bundle/lib/libaat.so.0"
  cp "$(dirname "$0")/multi_gpu_plot.py" "$bundle/"
  du -sh "$bundle"
  exit 0
fi

bundle=$(cd "${2:-build-multigpu}" && pwd)
out=${OUT:-$PWD/multi-gpu-out}
mkdir -p "$out"
# Everything printed goes to run.log too. Files back: run.log, in_process.json, mpi_1.json,
# mpi_2.json, multi_gpu.json (all rows and the table), multi_gpu.md, multi_gpu.png.
exec > >(tee "$out/run.log") 2>&1
tee_pid=$!
if compgen -G ".gpu-debs/*.deb" >/dev/null; then  # the Vulkan loader (and libfmt), as on-device.sh does
  for f in .gpu-debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
prefix=/tmp/ompi
mkdir -p "$prefix"
for f in .mpi-debs/*.deb; do dpkg -x "$f" "$prefix"; done
export OPAL_PREFIX=$prefix/usr PATH=$prefix/usr/bin:$PATH
export LD_LIBRARY_PATH=$bundle/lib:$prefix/usr/lib/x86_64-linux-gnu/openmpi/lib:$prefix/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
# Root in a container: Open MPI asks for both; shared-memory single copy needs ptrace rights.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export XDG_CACHE_HOME=/tmp/aatcache XDG_RUNTIME_DIR=/tmp
mkdir -p /tmp/aatcache
sizes=${SIZES:-32768,65536,131072}
reps=${REPS:-3}
common=(--sizes "$sizes" --heads 16 --dim 128 --batch 1 --reps "$reps" --modes "${MODES:-heads,keys}")
bench=$bundle/bin/bench_multi_gpu

nvidia-smi --query-gpu=index,name,memory.total,pcie.link.gen.current,pcie.link.width.current --format=csv
nvidia-smi topo -m
orterun --version | head -1
status=0
echo "== in one process: 1 GPU, then 2"
timeout 300 "$bench" "${common[@]}" --devices "${DEVICES:-0,1}" --adaptive-size "${ADAPTIVE:-65536}" --json "$out/in_process.json" \
  || status=1
for ranks in 1 2; do
  echo "== over MPI: $ranks rank(s), one GPU each"
  timeout 140 orterun --bind-to none -np "$ranks" "$bench" --mpi "${common[@]}" --json "$out/mpi_$ranks.json" \
    || status=1
done
python3 "$bundle/multi_gpu_plot.py" "$out/in_process.json" "$out/mpi_1.json" "$out/mpi_2.json" \
  --json "$out/multi_gpu.json" --png "$out/multi_gpu.png" --markdown "$out/multi_gpu.md" || status=1
exec 1>&- 2>&-
wait "$tee_pid"
exit $status
