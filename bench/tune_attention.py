#!/usr/bin/env python3
"""Sweeps kernel paths, tile sizes and variants of AAT attention on the current GPU.

    python3 bench/tune_attention.py --aat-bench build/bin/bench_attention --json tune.json

Each candidate is `path[:Br,Bc,workgroup,variant]` (bench_attention's AAT_BENCH_PATH and
AAT_BENCH_TILING); every candidate runs over the same shapes (B,H,Nq,Nk,D,causal[,Hkv]) in one
bench_attention process (GPU time by timestamps, >= 0.3 s warm-up). Prints TFLOP/s per shape
and candidate, the best candidate per shape, and the driver's statistics (registers, spills)
when --statistics is given. What the numbers decided is recorded in docs/performance.md.
"""
import argparse
import json
import os
import subprocess
import sys

DEFAULT_SHAPES = ["8,16,4096,4096,64,0", "8,16,4096,4096,64,1", "4,16,16384,16384,64,0", "4,16,16384,16384,64,1",
                  "8,16,4096,4096,128,0", "8,16,4096,4096,128,1", "4,16,16384,16384,128,0",
                  "4,16,16384,16384,128,1", "8,16,4096,4096,256,0"]
DEFAULT_CANDIDATES = ["cooperative_matrix2:64,64,128,0", "cooperative_matrix2:64,64,128,1",
                      "cooperative_matrix2:64,32,128,0", "cooperative_matrix2:64,128,128,0",
                      "cooperative_matrix2:128,64,256,0", "cooperative_matrix2:128,64,128,0",
                      "cooperative_matrix2:128,32,256,0", "cooperative_matrix_khr", "cooperative_matrix_nv"]


def run(bench, shapes, candidate, statistics, validate=False):
    path, _, tiling = candidate.partition(":")
    env = dict(os.environ, AAT_BENCH_SHAPES=";".join(shapes), AAT_BENCH_PATH=path, AAT_BENCH_TILING=tiling,
               AAT_BENCH_WARMUP_MS="0" if validate else "300")
    if statistics and not validate:
        env["AAT_BENCH_STATISTICS"] = "1"
    args = [bench, "--benchmark_format=json"]
    if validate:  # the layer checks pipelines and dispatches: one short run per shape is enough
        env["AAT_VALIDATION"] = "1"
        args.append("--benchmark_min_time=0.001")
    out = subprocess.run(args, env=env, capture_output=True, text=True)
    if statistics and out.stderr:
        print(out.stderr, file=sys.stderr, end="")
    if out.returncode != 0:
        return {"error": out.stderr[-400:]}
    found = {}
    for b in json.loads(out.stdout)["benchmarks"]:
        name = b["name"].split("/iterations")[0].split("/manual_time")[0]
        found[name] = b.get("error_message") if b.get("error_occurred") else b.get("TFLOP/s")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aat-bench", default="build/bin/bench_attention")
    parser.add_argument("--shapes", default=";".join(DEFAULT_SHAPES), help="B,H,Nq,Nk,D,causal[,Hkv];...")
    parser.add_argument("--candidates", default=";".join(DEFAULT_CANDIDATES), help="path[:Br,Bc,wg,variant];...")
    parser.add_argument("--statistics", action="store_true", help="print the driver's statistics of each kernel")
    parser.add_argument("--json", default="", help="write every number here")
    parser.add_argument("--validate", action="store_true",
                        help="first run each candidate once per shape under the Vulkan validation layer "
                             "(AAT_VALIDATION=1; the layer must be installed) and report a configuration it "
                             "objects to as invalid instead of timing it: the driver may run a tile shape it "
                             "does not allow, fast and wrong")
    args = parser.parse_args()
    shapes = [s for s in args.shapes.split(";") if s]
    table = {}
    for candidate in [c for c in args.candidates.split(";") if c]:
        invalid = {}
        if args.validate:
            checked = run(args.aat_bench, shapes, candidate, False, validate=True)
            if "error" in checked:
                table[candidate] = checked
                print(f"{candidate}: {json.dumps(checked)}", flush=True)
                continue
            invalid = {name: f"invalid: {value}" for name, value in checked.items()
                       if isinstance(value, str) and value.startswith("validation error")}
        table[candidate] = run(args.aat_bench, shapes, candidate, args.statistics)
        table[candidate].update(invalid)
        print(f"{candidate}: {json.dumps(table[candidate])}", flush=True)
    best = {}
    for candidate, found in table.items():
        for name, value in found.items():
            if isinstance(value, (int, float)) and (name not in best or value > best[name][1]):
                best[name] = (candidate, value)
    print("\nbest per shape:")
    for name, (candidate, value) in sorted(best.items()):
        print(f"  {name:<60} {value:7.1f} TFLOP/s  {candidate}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"candidates": table, "best": best}, f, indent=2)


if __name__ == "__main__":
    main()
