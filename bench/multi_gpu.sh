#!/usr/bin/env bash
# Multi-GPU scaling of attention (docs/performance.md, "Several GPUs"): exact attention, causal
# and not, N = 32k, 64k, 128k (B 1, H 16, D 128, f16) on 1 and 2 GPUs in one run, in one process
# (divided by heads and by keys) and over MPI (orterun -np 1 and -np 2, one GPU per rank), and
# adaptive attention at N = 64k. Writes to ${OUT:-gpu-out}: multi_gpu.json (every row and the
# table), multi_gpu.md (the table) and multi_gpu.png (bench/multi_gpu_plot.py).
#
# On the 2-GPU machine, as a step of bench/gpu/on-device.sh (`bench/gpu/on-device.sh info
# multigpu`), from the repository root with beside it: .gpu-bundle (bench/gpu/make-bundle.sh,
# which packs bench_multi_gpu), .gpu-debs (bench/gpu/fetch-device-libs.sh) and .mpi-debs
# (scripts/gpu/fetch-mpi.sh). Open MPI is unpacked into a prefix of its own (/tmp/ompi, never /)
# with PATH, LD_LIBRARY_PATH and OPAL_PREFIX pointing there.
# Environment: SIZES (32768,65536,131072), REPS (3), ADAPTIVE (65536), MODES (heads,keys),
# DEVICES (0,1: the in-process run's). The three runs are bounded at 280, 130 and 130 s.
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
bundle=${AAT_GPU_BUNDLE:-.gpu-bundle}
bench=$PWD/$bundle/bin/bench_multi_gpu
# Run alone on the GPU machine, the loader is not unpacked yet (on-device.sh does it).
if [ -d /usr/local/nvidia ] && [ -z "${VK_DRIVER_FILES:-}" ]; then source .gpu-debs/on-device.sh .gpu-debs >/dev/null 2>&1; fi
export LD_LIBRARY_PATH="$PWD/$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/aat-cache} XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/aat-runtime}
mkdir -p "$XDG_RUNTIME_DIR"
if ! command -v orterun >/dev/null 2>&1; then
  prefix=/tmp/ompi
  mkdir -p "$prefix"
  for f in .mpi-debs/*.deb; do dpkg -x "$f" "$prefix"; done
  export OPAL_PREFIX=$prefix/usr PATH=$prefix/usr/bin:$PATH
  export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$prefix/usr/lib/x86_64-linux-gnu/openmpi/lib:$prefix/usr/lib/x86_64-linux-gnu
fi
# Root in a container: Open MPI asks for both; shared-memory single copy needs ptrace rights.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

common=(--sizes "${SIZES:-32768,65536,131072}" --heads 16 --dim 128 --batch 1 --reps "${REPS:-3}"
        --modes "${MODES:-heads,keys}")
raw=$(mktemp -d)
status=0
nvidia-smi --query-gpu=index,name,memory.total,pcie.link.gen.current,pcie.link.width.current --format=csv 2>&1
nvidia-smi topo -m 2>&1
orterun --version 2>&1 | head -1
echo "== in one process: 1 GPU, then 2"
timeout 280 "$bench" "${common[@]}" --devices "${DEVICES:-0,1}" --adaptive-size "${ADAPTIVE:-65536}" \
  --json "$raw/in_process.json" || status=1
for ranks in 1 2; do
  echo "== over MPI: $ranks rank(s), one GPU each"
  timeout 130 orterun --bind-to none -np "$ranks" "$bench" --mpi "${common[@]}" --json "$raw/mpi_$ranks.json" || status=1
done
python3 bench/multi_gpu_plot.py "$raw"/*.json --json "$out/multi_gpu.json" --png "$out/multi_gpu.png" \
  --markdown "$out/multi_gpu.md" || status=1
rm -rf "$raw"
exit $status
