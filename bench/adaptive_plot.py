#!/usr/bin/python3
"""Plots and tabulates bench_adaptive results (docs/adaptive.md).

  /usr/bin/python3 bench/adaptive_plot.py bench/results/adaptive_h100_f32.json \
      bench/results/adaptive_lavapipe_f32.json --png docs/images/adaptive_ifq_cer.png --table

Each JSON file is one bench_adaptive --json output (a list of records). The plot has one panel
per device: IFQ against CER as the setting varies (mass for the mass rule, epsilon for the bound
rule), one line per (input kind, N, rule), the IFQ = 0.99 and CER = 4 targets dashed. --table
prints the Markdown tables of docs/adaptive.md.
"""
import argparse
import json
from collections import defaultdict


def load(paths):
    records = []
    for path in paths:
        with open(path) as f:
            records += json.load(f)
    return records


def rule(r):
    return r.get("mode", "mass")


def setting(r):
    return r["epsilon"] if rule(r) == "bound" else r["mass"]


def short_device(name):
    if "H100" in name:
        return "NVIDIA H100"
    if "llvmpipe" in name:
        return "lavapipe (CPU)"
    return name


def plot(records, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_device = defaultdict(list)
    for r in records:
        if r["dtype"] == "f32":
            by_device[short_device(r["device"])].append(r)
    devices = sorted(by_device, key=lambda d: "lavapipe" in d)
    fig, axes = plt.subplots(1, len(devices), figsize=(6.2 * len(devices), 4.8), squeeze=False)
    for ax, device in zip(axes[0], devices):
        lines = defaultdict(list)
        for r in by_device[device]:
            lines[(r["kind"], r["n"], rule(r))].append(r)
        for (kind, n, mode), rs in sorted(lines.items()):
            rs = sorted(rs, key=setting)
            style = ("-" if mode == "mass" else ":") + ("o" if kind == "structured" else "s")
            ax.plot([r["cer"] for r in rs], [r["ifq"] for r in rs], style, label=f"{kind} N={n} {mode}", markersize=4)
            for r in rs:
                if kind == "structured" and n == max(k[1] for k in lines if k[0] == kind):
                    ax.annotate(f"{setting(r):g}", (r["cer"], r["ifq"]), textcoords="offset points", xytext=(4, -10),
                                fontsize=7)
        ax.axhline(0.99, color="grey", linestyle=":", linewidth=1)
        ax.axvline(4.0, color="grey", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("CER = dense FLOPs / executed FLOPs (log)")
        ax.set_ylabel("IFQ = 1 - ||O - O_exact|| / ||O_exact||")
        ax.set_ylim(0.95, 1.0005)
        ax.set_title(f"{device}: IFQ vs CER as the setting varies (labels: mass or epsilon)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print(f"wrote {png}")


def table(records):
    print("| device | input | N | rule | IFQ | CER | AE | exact ms | adaptive ms (pattern / router / attention / merge) | full / pool2 / pool4 / skip |")
    print("|---|---|---:|---|---:|---:|---:|---:|---|---|")
    for r in sorted(records, key=lambda r: (short_device(r["device"]), r["dtype"], r["kind"] != "structured", r["n"], rule(r), setting(r))):
        s, l = r["stages_ms"], r["levels"]
        name = f"epsilon {setting(r):g}" + (" (exact)" if r.get("exact") else "") if rule(r) == "bound" else f"mass {setting(r):g}"
        print(f"| {short_device(r['device'])} {r['dtype']} | {r['kind']} | {r['n']} | {name} | {r['ifq']:.4f} | "
              f"{r['cer']:.2f} | {r['ae']:.2f} | {r['exact_ms']:.1f} | {r['adaptive_ms']:.1f} ({s['pattern']:.1f} / "
              f"{s['router']:.2f} / {s['attention']:.1f} / {s['merge']:.2f}) | {l['full']:.2f} / {l['pool2']:.2f} / "
              f"{l['pool4']:.2f} / {l['skip']:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", nargs="+")
    ap.add_argument("--png")
    ap.add_argument("--table", action="store_true")
    a = ap.parse_args()
    records = load(a.json)
    if a.png:
        plot(records, a.png)
    if a.table:
        table(records)


if __name__ == "__main__":
    main()
