#!/usr/bin/python3
"""Draws the pictures of docs/geometry.md from data made by the real `aat run geodesic` and
`aat run flow` commands (a docs tool: needs numpy and matplotlib, e.g. Debian's
python3-numpy and python3-matplotlib; not run by CI).

Usage: /usr/bin/python3 plugins/geodesic/tools/geometry_pictures.py [--aat build/bin/aat] [--out docs/images]

Paths are traced by running `aat run geodesic` a few steps at a time, each run starting
from the states the previous one wrote.
"""
import argparse
import json
import os
import subprocess
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def aat(binary, *args):
    result = subprocess.run([binary, "run", *args], check=True, capture_output=True, text=True)
    return result.stdout


def trace(binary, work, phi, extent, states, chunks, steps, dt):
    """Positions of every path after each chunk of `steps` steps: [chunks + 1, M, 2], NaN once stopped."""
    np.save(os.path.join(work, "phi.npy"), phi.astype(np.float32))
    current = states.astype(np.float32)
    track = [current[:, :2].copy()]
    stopped = np.zeros(len(current), bool)
    for _ in range(chunks):
        np.save(os.path.join(work, "s.npy"), current)
        aat(binary, "geodesic", "--phi", os.path.join(work, "phi.npy"), "--extent", ",".join(map(str, extent)),
            "--states", os.path.join(work, "s.npy"), "--steps", str(steps), "--dt", str(dt),
            "--out", os.path.join(work, "o.npy"))
        out = np.load(os.path.join(work, "o.npy"))
        points = out[:, :2].copy()
        points[stopped] = np.nan
        track.append(points)
        stopped |= out[:, 5] == 1
        current = out[:, :4].copy()
    return np.array(track)


def geodesic_picture(binary, work, path):
    fig, axes = plt.subplots(1, 2, figsize=(13.5, 5.6))

    # 1. A lens: phi = 0.45 exp(-r^2 / 0.8) raises the metric in the middle; rays (geodesics) that
    #    start parallel bend toward larger phi, like light toward a higher refractive index e^phi.
    extent = (-3.0, -2.0, 3.0, 2.0)
    ny, nx = 161, 241
    x = np.linspace(extent[0], extent[2], nx)
    y = np.linspace(extent[1], extent[3], ny)
    X, Y = np.meshgrid(x, y)
    phi = 0.45 * np.exp(-(X**2 + Y**2) / 0.8)
    starts = np.array([[-2.9, y0, 1.0, 0.0] for y0 in np.linspace(-1.6, 1.6, 17)])
    track = trace(binary, work, phi, extent, starts, 80, 10, 0.01)
    ax = axes[0]
    image = ax.imshow(phi, origin="lower", extent=(extent[0], extent[2], extent[1], extent[3]), cmap="magma")
    fig.colorbar(image, ax=ax, label="phi", shrink=0.85)
    for m in range(track.shape[1]):
        ax.plot(track[:, m, 0], track[:, m, 1], color="cyan", lw=1.2)
    ax.set_title("geodesics of e^{2 phi}(dx^2 + dy^2), phi = 0.45 exp(-r^2 / 0.8):\n"
                 "parallel rays bend toward larger phi and focus", fontsize=10)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_aspect("equal")

    # 2. The hyperbolic half-plane, phi = -ln y: geodesics from one point in 12 directions,
    #    drawn by the kernel (solid) over the analytic semicircles centred on the x-axis (dashed).
    extent = (-2.5, 0.1, 2.5, 3.0)
    ny, nx = 581, 65
    y = np.linspace(extent[1], extent[3], ny)
    phi = np.repeat(-np.log(y)[:, None], nx, axis=1)
    p = np.array([0.0, 1.0])
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False) + 0.13
    starts = np.array([[p[0], p[1], np.cos(a), np.sin(a)] for a in angles])
    track = trace(binary, work, phi, extent, starts, 50, 10, 0.006)
    ax = axes[1]
    for m, a in enumerate(angles):
        vx, vy = np.cos(a), np.sin(a)
        c = p[0] + p[1] * vy / vx
        r = np.hypot(p[0] - c, p[1])
        t = np.linspace(0, np.pi, 400)
        ax.plot(c + r * np.cos(t), r * np.sin(t), "--", color="0.75", lw=0.8)
        ax.plot(track[:, m, 0], track[:, m, 1], color=plt.cm.viridis(m / len(angles)), lw=1.8)
    ax.plot(*p, "ko")
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(0, extent[3])
    ax.set_aspect("equal")
    ax.set_title("hyperbolic half-plane, phi = -ln y: geodesics from (0, 1) by the kernel\n"
                 "(solid) on the analytic semicircles centred on the x-axis (dashed);\n"
                 "paths stop where they reach the domain edge y = 0.1", fontsize=10)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def flow_picture(binary, work, path):
    ny, nx, h = 96, 96, 1.0 / 16
    i, j = np.mgrid[0:ny, 0:nx]
    x, y = 2 * np.pi * j / nx, 2 * np.pi * i / ny
    rng = np.random.default_rng(3)
    phi = 0.35 * np.sin(x) * np.cos(2 * y) + 0.25 * np.cos(3 * x + 2 * y + 1.0)
    phi += 0.1 * sum(rng.standard_normal() * np.sin(kx * x + ky * y + rng.uniform(0, 6))
                     for kx, ky in [(5, 1), (2, 6), (7, 4), (4, 7)])
    np.save(os.path.join(work, "phi0.npy"), phi.astype(np.float32))
    panels = [("t = 0", np.load(os.path.join(work, "phi0.npy")), None)]
    source = os.path.join(work, "phi0.npy")
    dt = 4e-4
    for index, steps in enumerate([100, 900]):
        out = os.path.join(work, f"phi{index + 1}.npy")
        report = json.loads(aat(binary, "flow", "--phi", source, "--spacing", str(h), "--steps", str(steps), "--dt",
                                str(dt), "--boundary", "periodic", "--out", out, "--json"))
        source = out
        panels.append((None, np.load(out), report))
    fig, axes = plt.subplots(1, 3, figsize=(14, 5.4))
    lo, hi = panels[0][1].min(), panels[0][1].max()
    time = 0.0
    start_area = float((np.exp(2 * panels[0][1].astype(np.float64)) * h * h).sum())
    max_k = None
    for ax, (title, field, report) in zip(axes, panels):
        area = float((np.exp(2 * field.astype(np.float64)) * h * h).sum())
        if report:
            time += report["time"]
            max_k = report["max_abs_curvature"]["after"]
            sub = f"{report['substeps']} sub-steps each" if report["substeps"] > 1 else "no sub-steps"
            title = (f"t = {time:.2f} (+{report['steps']} steps, {sub})\n"
                     f"area {area:.6f} (change {((area - start_area) / start_area):+.1e})\n"
                     f"var(phi) {field.var():.2e}, max|K| {max_k:.3g}")
        else:
            title = f"t = 0\narea {area:.6f}\nvar(phi) {field.var():.2e}"
        image = ax.imshow(field, origin="lower", cmap="coolwarm", vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_title(axes[0].get_title() + f", max|K| {panels[1][2]['max_abs_curvature']['before']:.3g}", fontsize=9)
    fig.colorbar(image, ax=axes, label="phi", shrink=0.85)
    fig.suptitle(f"Ricci flow d phi/dt = e^{{-2 phi}} Laplacian(phi) on a 96x96 torus, h = 1/16, dt = {dt:g} (aat run flow)",
                 fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aat", default="build/bin/aat")
    parser.add_argument("--out", default="docs/images")
    args = parser.parse_args()
    binary = os.path.abspath(args.aat)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        geodesic_picture(binary, work, os.path.join(args.out, "geodesics.png"))
        flow_picture(binary, work, os.path.join(args.out, "ricci_flow.png"))
    print(f"wrote {args.out}/geodesics.png and {args.out}/ricci_flow.png")


if __name__ == "__main__":
    main()
