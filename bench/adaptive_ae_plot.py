#!/usr/bin/env python3
"""IFQ against AE across epsilon, from bench/gpu/adaptive-epsilon-sweep.sh's JSON lines.

    /usr/bin/python3 bench/adaptive_ae_plot.py bench/results/h200_adaptive_epsilon_cli_2026-12-01.jsonl \
        --png docs/images/adaptive_ifq_ae_h200.png --table
"""
import argparse
import json
from collections import defaultdict


def load(paths):
    return [json.loads(line) for path in paths for line in open(path) if line.strip()]


def plot(records, png, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = defaultdict(list)
    for r in records:
        lines[(r["kind"], r["n"])].append(r)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for (kind, n), rs in sorted(lines.items()):
        rs = sorted(rs, key=lambda r: r["epsilon"])
        style = ("-" if n == max(k[1] for k in lines) else "--") + "o"
        ax.plot([r["ae"] for r in rs], [r["ifq"] for r in rs], style, markersize=4, label=f"{kind} N={n}")
        if kind == "structured" and n == max(k[1] for k in lines):
            for r in rs:
                ax.annotate(f"ε={r['epsilon']:g}", (r["ae"], r["ifq"]), textcoords="offset points", xytext=(4, 4),
                            fontsize=7)
    ax.axhline(0.99, color="grey", linestyle=":", linewidth=1)
    ax.axvline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.axvline(2.0, color="red", linestyle=":", linewidth=1)
    ax.set_xlabel("AE = exact attention time / adaptive time (pattern included)")
    ax.set_ylabel("IFQ = 1 - ||O - O_exact|| / ||O_exact||")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print(f"wrote {png}")


def table(records):
    print("| family | N | ε | IFQ | CER | AE | exact ms | adaptive ms | pattern ms | plan ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(records, key=lambda r: (r["n"], r["kind"], r["epsilon"])):
        s = r["stages_ms"]
        print(f"| {r['kind']} | {r['n']} | {r['epsilon']:g} | {r['ifq']:.4f} | {r['cer']:.2f} | {r['ae']:.2f} | "
              f"{r['dense_gpu_ms']:.2f} | {r['gpu_ms']:.2f} | {s['pattern']:.2f} | {s['attention']:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jsonl", nargs="+")
    ap.add_argument("--png")
    ap.add_argument("--title", default="H200, f16, causal, B=1, H=8, D=64: IFQ vs AE as epsilon varies")
    ap.add_argument("--table", action="store_true")
    a = ap.parse_args()
    records = load(a.jsonl)
    if a.png:
        plot(records, a.png, a.title)
    if a.table:
        table(records)


if __name__ == "__main__":
    main()
