#!/usr/bin/env python3
"""Tabulates and draws bench_multi_gpu's JSON files (bench/multi_gpu.sh):

    multi_gpu_plot.py IN.json... [--json ALL.json] [--png OUT.png] [--markdown OUT.md]

Per shape (kind, N, causal): the one-GPU time and, for each run on more GPUs (in one process
divided by heads or by keys, over MPI), its time, the speedup over the one-GPU time of the same
launch (wall: host arrays in and out; GPU: the slowest device's kernels plus the merge), the
MPI run against the in-process run of the same division, and IFQ against one GPU. The Markdown
table is what docs/performance.md "Several GPUs" shows; the PNG draws the speedups."""
import argparse
import json
import sys


def load(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        rows.extend(data["rows"])
    return rows


def key(row):
    return (row["kind"], row["n"], row["causal"])


def table(rows):
    """One line per multi-GPU row, with its baseline and ratios."""
    for r in rows:  # MPI runs differ in where the inputs start: sent from rank 0, or on every rank
        if r["launch"] == "mpi" and "inputs" in r and r["gpus"] > 1:
            r["launch"] = f"mpi, inputs {r['inputs']}"
    ones = {key(r) + (r["launch"],): r for r in rows if r["gpus"] == 1}
    in_process = {key(r) + (r["mode"],): r for r in rows if r["launch"] == "in-process" and r["gpus"] > 1}
    lines = []
    for r in rows:
        if r["gpus"] == 1:
            continue
        base = ones.get(key(r) + (r["launch"].split(",")[0],))
        line = dict(r)
        if base:
            line["one_wall_ms"] = base["wall_ms"]
            line["one_gpu_ms"] = base["gpu_ms"]
            line["speedup_wall"] = base["wall_ms"] / r["wall_ms"] if r["wall_ms"] else None
            line["speedup_gpu"] = base["gpu_ms"] / r["gpu_ms"] if r["gpu_ms"] else None
        peer = in_process.get(key(r) + (r["mode"],))
        if r["launch"].startswith("mpi") and peer:
            line["mpi_over_in_process_wall"] = r["wall_ms"] / peer["wall_ms"]
        lines.append(line)
    lines.sort(key=lambda l: (l["kind"], l["n"], l["causal"], l["launch"], l["mode"]))
    return lines


def size(n):
    return f"{n // 1024}k" if n % 1024 == 0 else str(n)


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def markdown(lines):
    out = ["| kind | N | causal | launch | division | GPUs | 1 GPU wall / GPU ms | N GPUs wall / GPU ms | "
           "speedup wall | speedup GPU | MPI / in-process | IFQ vs 1 GPU |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for l in lines:
        out.append("| {} | {} | {} | {} | {} | {} | {} / {} | {} / {} | {} | {} | {} | {} |".format(
            l["kind"], size(l["n"]), "yes" if l["causal"] else "no", l["launch"], l.get("split", l["mode"]),
            l["gpus"], fmt(l.get("one_wall_ms"), ".1f"), fmt(l.get("one_gpu_ms"), ".1f"), fmt(l["wall_ms"], ".1f"),
            fmt(l["gpu_ms"], ".1f"), fmt(l.get("speedup_wall"), ".2f") + "×", fmt(l.get("speedup_gpu"), ".2f") + "×",
            fmt(l.get("mpi_over_in_process_wall"), ".2f"), fmt(l.get("ifq"), ".6f")))
    return "\n".join(out) + "\n"


def plot(lines, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = sorted({(l["launch"], l["mode"]) for l in lines})
    shapes = sorted({(l["kind"], l["n"], l["causal"]) for l in lines})
    fig, axes = plt.subplots(1, 2, figsize=(max(9, len(shapes) * 1.3), 4.6), sharey=True)
    width = 0.8 / max(len(series), 1)
    for ax, metric, title in ((axes[0], "speedup_gpu", "GPU time"), (axes[1], "speedup_wall", "wall (host to host)")):
        for i, (launch, mode) in enumerate(series):
            values = []
            for s in shapes:
                match = [l for l in lines if (l["kind"], l["n"], l["causal"]) == s and (l["launch"], l["mode"]) == (launch, mode)]
                values.append(match[0].get(metric) or 0 if match else 0)
            ax.bar([x + (i - (len(series) - 1) / 2) * width for x in range(len(shapes))], values, width,
                   label=f"{launch}, {mode}")
        ax.axhline(2.0, color="gray", linestyle=":", linewidth=1)
        ax.axhline(1.8, color="red", linestyle="--", linewidth=1, label="target 1.8×")
        ax.set_xticks(range(len(shapes)))
        ax.set_xticklabels([f"{k} {size(n)}{' causal' if c else ''}" for k, n, c in shapes], rotation=35, ha="right",
                           fontsize=8)
        ax.set_title(f"2 GPUs vs 1: {title}")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("speedup")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--json")
    parser.add_argument("--png")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    rows = load([p for p in args.inputs])
    lines = table(rows)
    text = markdown(lines)
    sys.stdout.write(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "table": lines}, f, indent=2)
    if args.png:
        try:
            plot(lines, args.png)
        except ImportError:
            print("matplotlib is not importable here: no PNG (run this script where it is)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
