#!/usr/bin/env python3
"""AAT attention side by side with PyTorch's scaled_dot_product_attention, same GPU, same run.

One command on the GPU machine (after building AAT there or carrying a build):

    python3 bench/gpu_compare.py --aat-bench build/bin/bench_attention \
        --json docs/performance.json --png docs/images/performance.png

Shapes (issue 7): fp16, D in {64, 128}, N in {1k, 4k, 16k}, causal and not, H = 16,
B = 2 * max(1, 32768 / N), plus decode (Nq = 1, Nk = 32k). FLOPs = 4 B H Nq Nk D, halved for
causal. PyTorch is timed with CUDA events (3 warm-up runs, then 10) for the flash and cuDNN
back ends; AAT with Vulkan timestamp queries (bench_attention: 1 warm-up, then 10). Both
measure GPU time of the attention kernels only. Prints our/theirs ratios and writes JSON
(and a PNG when matplotlib is importable; bench/plot_performance.py draws it elsewhere).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys


def shapes(quick):
    out = []
    sizes = [4096] if quick else [1024, 4096, 16384]
    for d in (64, 128):
        for n in sizes:
            for causal in (0, 1):
                out.append(dict(B=2 * max(1, 32768 // n), H=16, Nq=n, Nk=n, D=d, causal=causal))
    out.append(dict(B=2, H=16, Nq=1, Nk=32768, D=128, causal=0))  # decode
    return out


def flops(s):
    f = 4.0 * s["B"] * s["H"] * s["Nq"] * s["Nk"] * s["D"]
    return f / 2 if s["causal"] and s["Nq"] == s["Nk"] else f


def label(s):
    if s["Nq"] == 1:
        return f"decode Nk={s['Nk'] // 1024}k D={s['D']}"
    return f"N={s['Nq'] // 1024}k D={s['D']}{' causal' if s['causal'] else ''}"


def time_torch(s, backend):
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    which = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}[backend]
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(s["B"], s["H"], s["Nq"], s["D"], device="cuda", dtype=torch.float16, generator=g)
    k = torch.randn(s["B"], s["H"], s["Nk"], s["D"], device="cuda", dtype=torch.float16, generator=g)
    v = torch.randn_like(k)
    causal = bool(s["causal"])
    try:
        with sdpa_kernel(which):
            for _ in range(3):
                F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(10):
                F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 10
    except RuntimeError as e:  # a back end that does not take this shape
        print(f"  torch {backend} {label(s)}: {str(e).splitlines()[0]}", file=sys.stderr)
        return None
    finally:
        del q, k, v
        torch.cuda.empty_cache()


def time_aat(bench, all_shapes):
    spec = ";".join(f"{s['B']},{s['H']},{s['Nq']},{s['Nk']},{s['D']},{s['causal']}" for s in all_shapes)
    env = dict(os.environ, AAT_BENCH_SHAPES=spec)
    run = subprocess.run([bench, "--benchmark_format=json"], env=env, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"bench_attention failed ({run.returncode}):\n{run.stderr}")
    report = json.loads(run.stdout)
    times = {}
    for b in report["benchmarks"]:
        if b.get("error_occurred"):
            print(f"  aat {b['name']}: {b.get('error_message')}", file=sys.stderr)
            continue
        times[b["name"].split("/iterations")[0]] = (b["real_time"], b.get("label", ""))
    out = []
    for s in all_shapes:
        key = f"Shape/f16/B={s['B']}/H={s['H']}/Nq={s['Nq']}/Nk={s['Nk']}/D={s['D']}/causal={s['causal']}"
        match = [v for k, v in times.items() if k.startswith(key)]
        out.append(match[0] if match else (None, ""))
    return out, report.get("context", {})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aat-bench", default="build/bin/bench_attention", help="path to bench_attention")
    parser.add_argument("--json", default="performance.json", help="results file to write")
    parser.add_argument("--png", default="", help="plot to write (needs matplotlib)")
    parser.add_argument("--quick", action="store_true", help="N = 4k only, for a smoke test")
    args = parser.parse_args()

    import torch
    all_shapes = shapes(args.quick)
    print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}", flush=True)
    aat_times, context = time_aat(args.aat_bench, all_shapes)
    rows = []
    for s, (aat_ms, aat_label) in zip(all_shapes, aat_times):
        row = dict(s, name=label(s), flops=flops(s), aat_ms=aat_ms, aat_tiling=aat_label)
        for backend in ("flash", "cudnn"):
            row[f"{backend}_ms"] = time_torch(s, backend)
        for who in ("aat", "flash", "cudnn"):
            ms = row[f"{who}_ms"]
            row[f"{who}_tflops"] = row["flops"] / (ms * 1e9) if ms else None
        for peer in ("flash", "cudnn"):
            a, p = row["aat_tflops"], row[f"{peer}_tflops"]
            row[f"aat_over_{peer}"] = a / p if a and p else None
        rows.append(row)
        fmt = lambda x: f"{x:7.1f}" if x else "      -"
        ratio = lambda x: f"{x:5.2f}x" if x else "    -"
        print(f"{row['name']:<24} TFLOP/s  aat {fmt(row['aat_tflops'])}  flash {fmt(row['flash_tflops'])}  "
              f"cudnn {fmt(row['cudnn_tflops'])}   aat/flash {ratio(row['aat_over_flash'])}  "
              f"aat/cudnn {ratio(row['aat_over_cudnn'])}", flush=True)

    result = dict(device=torch.cuda.get_device_name(), torch=torch.__version__,
                  date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  aat_bench_context=context, results=rows)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
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
