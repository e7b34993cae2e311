#!/usr/bin/env python3
"""Draws TFLOP/s per shape from bench/gpu_compare.py's JSON:  plot_performance.py IN.json OUT.png"""
import json
import sys


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["results"]
    names = [r["name"] for r in rows]
    series = [("aat", "AAT (Vulkan)", "#1f77b4"), ("ggml", "ggml-vulkan (best path)", "#9467bd"),
              ("flash", "PyTorch flash", "#ff7f0e"), ("cudnn", "PyTorch cuDNN", "#2ca02c")]
    series = [s for s in series if any(r.get(f"{s[0]}_tflops") for r in rows)]
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(8, len(rows) * 0.9), 4.8))
    for i, (key, title, color) in enumerate(series):
        values = [r.get(f"{key}_tflops") or 0 for r in rows]
        ax.bar([x + (i - (len(series) - 1) / 2) * width for x in range(len(rows))], values, width, label=title, color=color)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("TFLOP/s (fp16)")
    ax.set_yscale("log")
    ax.set_title(f"Attention forward, {result['device']}, same run ({result['date'][:10]})")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        plot(json.load(f), sys.argv[2])
