#!/usr/bin/env python3
"""AAT attention beside PyTorch SDPA (flash, cuDNN) and the Vulkan peer ggml-vulkan, same GPU, same run.

On the GPU machine, after building AAT (or carrying a build) and the peer (../shared/peer/build.sh):

    python3 bench/gpu_compare.py --aat-bench build/bin/bench_attention \\
        --ggml-bench .peer/ggml_fa_bench --ggml-mm .peer/ggml_mm_bench \\
        --json docs/performance.json --png docs/images/performance.png

Shapes: fp16; prefill D in {64, 128}, N in {1k, 4k, 16k}, causal and not, H = 16,
B = 2 * max(1, 32768 / N); decode Nk = 32k, D = 128: Nq = 1 (MHA and GQA Hq/Hkv = 8), Nq = 4 and
16 (MHA), Nq = 4 GQA. FLOPs = 4 B Hq Nq Nk D, halved for causal (FlashAttention's convention).
Timing: AAT by Vulkan timestamps (bench_attention, >= 0.3 s warm-up, 10 runs); PyTorch by CUDA
events (>= 0.3 s warm-up, 10 runs); ggml by wall clock around compute + synchronize (its
driver: warm-up, 10 runs, best of its coopmat2 and coopmat1 paths, each named). Decode rows also
report the K/V read rate (GB/s) against the device copy rate measured here. The GEMM ceiling of
each path (ggml_mm_bench for Vulkan's coopmat2/coopmat1, torch.matmul for cuBLAS) is printed
beside. Writes JSON (and a PNG when matplotlib is importable).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

WARMUP_MS = 300.0


def shapes(quick):
    out = []
    sizes = [4096] if quick else [1024, 4096, 16384]
    for d in (64, 128):
        for n in sizes:
            for causal in (0, 1):
                out.append(dict(B=2 * max(1, 32768 // n), H=16, Hkv=16, Nq=n, Nk=n, D=d, causal=causal))
    for nq, h, hkv in ((1, 16, 16), (1, 32, 4), (4, 16, 16), (16, 16, 16), (4, 32, 4)):
        out.append(dict(B=2, H=h, Hkv=hkv, Nq=nq, Nk=32768, D=128, causal=0))
    return out


def is_decode(s):
    return s["Nq"] < 64


def flops(s):
    f = 4.0 * s["B"] * s["H"] * s["Nq"] * s["Nk"] * s["D"]
    return f / 2 if s["causal"] and s["Nq"] == s["Nk"] else f


def kv_bytes(s):
    return 2.0 * s["B"] * s["Hkv"] * s["Nk"] * s["D"] * 2


def label(s):
    gqa = f" GQA {s['H'] // s['Hkv']}" if s["Hkv"] != s["H"] else ""
    if is_decode(s):
        return f"decode Nq={s['Nq']} Nk={s['Nk'] // 1024}k D={s['D']}{gqa}"
    return f"N={s['Nq'] // 1024}k D={s['D']}{' causal' if s['causal'] else ''}{gqa}"


def time_cuda(fn):
    """Mean of 10 runs by CUDA events, after at least WARMUP_MS of warm-up."""
    import torch
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    warmed = 0.0
    while warmed < WARMUP_MS:
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        warmed += start.elapsed_time(end) + 1e-3
    start.record()
    for _ in range(10):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 10


def time_torch(s, backend):
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    which = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}[backend]
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(s["B"], s["H"], s["Nq"], s["D"], device="cuda", dtype=torch.float16, generator=g)
    k = torch.randn(s["B"], s["Hkv"], s["Nk"], s["D"], device="cuda", dtype=torch.float16, generator=g)
    v = torch.randn_like(k)
    gqa = s["Hkv"] != s["H"]
    try:
        with sdpa_kernel(which):
            return time_cuda(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=bool(s["causal"]), enable_gqa=gqa))
    except RuntimeError as e:  # a back end that does not take this shape
        print(f"  torch {backend} {label(s)}: {str(e).splitlines()[0]}", file=sys.stderr)
        return None
    finally:
        del q, k, v
        torch.cuda.empty_cache()


def device_copy_gbs():
    import torch
    x = torch.empty(2 << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    ms = time_cuda(lambda: y.copy_(x))
    return 2 * x.numel() / (ms * 1e6)


def cublas_tflops(n=8192):
    import torch
    a = torch.randn(n, n, device="cuda", dtype=torch.float16)
    b = torch.randn(n, n, device="cuda", dtype=torch.float16)
    ms = time_cuda(lambda: a @ b)
    return 2.0 * n ** 3 / (ms * 1e9)


def shape_spec(s):
    return f"{s['B']},{s['H']},{s['Nq']},{s['Nk']},{s['D']},{s['causal']},{s['Hkv']}"


def time_aat(bench, all_shapes, extra_env=None):
    env = dict(os.environ, AAT_BENCH_SHAPES=";".join(shape_spec(s) for s in all_shapes),
               AAT_BENCH_WARMUP_MS=str(WARMUP_MS), **(extra_env or {}))
    # The console table streams into this script's output as each shape finishes (progress and
    # a record of where the time went); the numbers are read from the JSON file.
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        started = time.monotonic()
        run = subprocess.run([bench, f"--benchmark_out={out.name}", "--benchmark_out_format=json"], env=env)
        print(f"  bench_attention: {time.monotonic() - started:.0f} s", flush=True)
        if run.returncode != 0:
            sys.exit(f"bench_attention failed ({run.returncode})")
        report = json.load(open(out.name))
    times = {}
    for b in report["benchmarks"]:
        if b.get("error_occurred"):
            print(f"  aat {b['name']}: {b.get('error_message')}", file=sys.stderr)
            continue
        times[b["name"].split("/iterations")[0].split("/manual_time")[0]] = (b["real_time"], b.get("label", ""))
    out = []
    for s in all_shapes:
        key = f"Shape/f16/B={s['B']}/H={s['H']}/Hkv={s['Hkv']}/Nq={s['Nq']}/Nk={s['Nk']}/D={s['D']}/causal={s['causal']}"
        match = [v for k, v in times.items() if k.startswith(key)]
        out.append(match[0] if match else (None, ""))
    return out, report.get("context", {})


GGML_PATHS = {"cm2": {}, "cm1": {"GGML_VK_DISABLE_COOPMAT2": "1"},
              "scalar": {"GGML_VK_DISABLE_COOPMAT2": "1", "GGML_VK_DISABLE_COOPMAT": "1"}}


def run_ggml(binary, all_shapes, paths):
    """Best of the given ggml paths per MHA shape: {spec: (ms, path)}."""
    mha = [s for s in all_shapes if s["Hkv"] == s["H"]]
    spec = ";".join(f"{s['B']},{s['H']},{s['Nq']},{s['Nk']},{s['D']},{s['causal']}" for s in mha)
    best = {}
    for tag, env in ((p, GGML_PATHS[p]) for p in paths):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            run = subprocess.run([binary, f"--shapes={spec}", "--warmup=5", f"--json={out.name}", f"--tag={tag}"],
                                 env=dict(os.environ, **env), capture_output=True, text=True)
            print(run.stdout, end="", flush=True)
            try:
                results = json.load(open(out.name))["results"]
            except (ValueError, KeyError, OSError):
                print(f"  ggml {tag}: no results ({run.returncode}): {run.stderr[-500:]}", file=sys.stderr)
                continue
        for r in results:
            if r.get("error") or not r.get("finite", True):
                continue
            key = (r["B"], r["H"], r["Nq"], r["Nk"], r["D"], r["causal"])
            if key not in best or r["mean_ms"] < best[key][0]:
                best[key] = (r["mean_ms"], tag)
    return best


def ggml_gemm(binary):
    out = {}
    for tag, env in (("cm2", {}), ("cm1", {"GGML_VK_DISABLE_COOPMAT2": "1"})):
        run = subprocess.run([binary, "8192", "8192", "8192", "20"], env=dict(os.environ, **env),
                             capture_output=True, text=True)
        out[tag] = run.stdout.strip().splitlines()[-2:] if run.stdout else [run.stderr[-300:]]
    return out


def write_results(path, device, torch_version, ceilings, context, rows):
    result = dict(device=device, torch=torch_version,
                  date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  ceilings=ceilings, aat_bench_context=context, results=rows)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aat-bench", default="build/bin/bench_attention", help="path to bench_attention")
    parser.add_argument("--ggml-bench", default="", help="ggml_fa_bench from ../shared/peer/build.sh (optional)")
    parser.add_argument("--ggml-mm", default="", help="ggml_mm_bench, for the Vulkan GEMM ceilings (optional)")
    parser.add_argument("--ggml-paths", default="cm2,cm1", help="ggml paths to time (cm2, cm1, scalar); best wins")
    parser.add_argument("--aat-alt", action="append", default=[], metavar="LABEL:VAR=VALUE",
                        help="also time AAT with an environment setting (e.g. v2:AAT_BENCH_TILING=,,,2): a column each")
    parser.add_argument("--json", default="performance.json", help="results file to write")
    parser.add_argument("--png", default="", help="plot to write (needs matplotlib)")
    parser.add_argument("--quick", action="store_true", help="N = 4k only, for a smoke test")
    args = parser.parse_args()

    import torch
    all_shapes = shapes(args.quick)
    device = torch.cuda.get_device_name()
    print(f"device: {device}  torch {torch.__version__}", flush=True)
    copy_gbs = device_copy_gbs()
    ceilings = {"device_copy_GBs": copy_gbs, "cublas_f16_8192_TFLOPs": cublas_tflops()}
    if args.ggml_mm:
        ceilings["ggml_gemm_8192"] = ggml_gemm(args.ggml_mm)
    print(f"ceilings: {json.dumps(ceilings)}", flush=True)
    aat_times, context = time_aat(args.aat_bench, all_shapes)
    alternatives = {}
    for alt in args.aat_alt:
        name, _, setting = alt.partition(":")
        var, _, value = setting.partition("=")
        alternatives[name] = time_aat(args.aat_bench, all_shapes, {var: value})[0]
        print(f"aat {name} ({setting}) measured", flush=True)
    ggml = run_ggml(args.ggml_bench, all_shapes, args.ggml_paths.split(",")) if args.ggml_bench else {}

    rows = []
    fmt = lambda x: f"{x:7.1f}" if x else "      -"
    ratio = lambda x: f"{x:5.2f}x" if x else "    -"
    for i, (s, (aat_ms, aat_label)) in enumerate(zip(all_shapes, aat_times)):
        row = dict(s, name=label(s), flops=flops(s), aat_ms=aat_ms, aat_tiling=aat_label)
        for name, times in alternatives.items():
            alt_ms, alt_label = times[i]
            row[f"aat_{name}_ms"], row[f"aat_{name}_tiling"] = alt_ms, alt_label
            row[f"aat_{name}_tflops"] = row["flops"] / (alt_ms * 1e9) if alt_ms else None
        for backend in ("flash", "cudnn"):
            row[f"{backend}_ms"] = time_torch(s, backend)
        key = (s["B"], s["H"], s["Nq"], s["Nk"], s["D"], s["causal"])
        row["ggml_ms"], row["ggml_path"] = ggml.get(key, (None, None)) if s["Hkv"] == s["H"] else (None, None)
        for who in ("aat", "flash", "cudnn", "ggml"):
            ms = row[f"{who}_ms"]
            row[f"{who}_tflops"] = row["flops"] / (ms * 1e9) if ms else None
        for peer in ("flash", "cudnn", "ggml"):
            a, p = row["aat_tflops"], row[f"{peer}_tflops"]
            row[f"aat_over_{peer}"] = a / p if a and p else None
        if is_decode(s) and aat_ms:
            row["aat_kv_GBs"] = kv_bytes(s) / (aat_ms * 1e6)
            row["aat_kv_over_copy"] = row["aat_kv_GBs"] / copy_gbs
        rows.append(row)
        write_results(args.json, device, torch.__version__, ceilings, context, rows)  # a cut run keeps what it measured
        extra = f"  K/V {row['aat_kv_GBs']:6.0f} GB/s" if row.get("aat_kv_GBs") else ""
        alts = "".join(f"  {n} {fmt(row[f'aat_{n}_tflops'])}" for n in alternatives)
        print(f"{row['name']:<30} TFLOP/s  aat {fmt(row['aat_tflops'])}{alts}  flash {fmt(row['flash_tflops'])}  "
              f"cudnn {fmt(row['cudnn_tflops'])}  ggml {fmt(row['ggml_tflops'])} {row['ggml_path'] or '':3}  "
              f"aat/flash {ratio(row['aat_over_flash'])}  aat/ggml {ratio(row['aat_over_ggml'])}{extra}", flush=True)

    result = write_results(args.json, device, torch.__version__, ceilings, context, rows)
    print(f"wrote {args.json}")
    if args.png:
        try:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from plot_performance import plot
            plot(result, args.png)
            print(f"wrote {args.png}")
        except ImportError as e:
            print(f"no plot ({e}); run bench/plot_performance.py {args.json} {args.png} where matplotlib is", file=sys.stderr)


if __name__ == "__main__":
    main()
