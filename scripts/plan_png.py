#!/usr/bin/python3
"""Draws an adaptive attention plan (the block map `aat run adaptive-attention --map` writes) as a PNG.

  /usr/bin/python3 scripts/plan_png.py map.npy plan.png --block-q 32 --block-k 64 [--batch 0 --head 0]

map.npy: uint8 [B, H, tiles_q, tiles_k], one level per (query tile, key tile) block: 0 full,
1 keys pooled x2, 2 pooled x4, 3 skipped, 4 masked (aat::pattern::BlockLevel). The picture is the
attention matrix of one (batch, head): queries down, keys across, one pixel per `--pixel` tokens
(default: so the longer side is about 1024 pixels), coloured by level:
  full dark blue, pool x2 mid blue, pool x4 light blue, skipped white, masked light grey.
Written with zlib alone (no matplotlib).
"""
import argparse
import struct
import sys
import zlib

import numpy as np

COLOURS = np.array([
    (31, 78, 121),    # 0 full
    (79, 155, 217),   # 1 pool x2
    (169, 212, 245),  # 2 pool x4
    (255, 255, 255),  # 3 skipped
    (230, 230, 230),  # 4 masked
], dtype=np.uint8)


def write_png(path, rgb):
    """rgb: uint8 [height, width, 3]."""
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))  # filter 0 per row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def plan_image(levels, block_q, block_k, pixel):
    """levels: uint8 [tiles_q, tiles_k] -> rgb, each block block_q/pixel x block_k/pixel pixels."""
    if levels.size and levels.max() >= len(COLOURS):
        raise ValueError(f"level {levels.max()} is not a BlockLevel (0..{len(COLOURS) - 1})")
    rows = max(1, round(block_q / pixel))
    cols = max(1, round(block_k / pixel))
    rgb = COLOURS[levels]
    return np.repeat(np.repeat(rgb, rows, axis=0), cols, axis=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("map", help="uint8 [B, H, tiles_q, tiles_k] .npy from --map")
    parser.add_argument("png", help="the PNG to write")
    parser.add_argument("--block-q", type=int, required=True, help="query rows per tile (the JSON report's tiles.block_q)")
    parser.add_argument("--block-k", type=int, required=True, help="keys per tile (tiles.block_k)")
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--head", type=int, default=0)
    parser.add_argument("--pixel", type=int, default=0, help="tokens per pixel (default: longer side ~1024 px)")
    args = parser.parse_args(argv)
    levels = np.load(args.map)
    if levels.dtype != np.uint8 or levels.ndim != 4:
        sys.exit(f"plan_png.py: {args.map} is {levels.dtype} {levels.shape}, not a uint8 [B, H, tiles_q, tiles_k] map")
    if not (0 <= args.batch < levels.shape[0] and 0 <= args.head < levels.shape[1]):
        sys.exit(f"plan_png.py: batch {args.batch} / head {args.head} outside the map's {levels.shape[:2]}")
    tiles_q, tiles_k = levels.shape[2:]
    pixel = args.pixel or max(1, max(tiles_q * args.block_q, tiles_k * args.block_k) // 1024)
    write_png(args.png, plan_image(levels[args.batch, args.head], args.block_q, args.block_k, pixel))
    shares = np.bincount(levels[args.batch, args.head].ravel(), minlength=len(COLOURS))
    visible = shares[:4].sum()
    names = ["full", "pool2", "pool4", "skip"]
    summary = ", ".join(f"{n} {100 * shares[i] / max(visible, 1):.1f}%" for i, n in enumerate(names))
    print(f"wrote {args.png}: {tiles_q} x {tiles_k} blocks of {args.block_q} x {args.block_k} "
          f"(visible blocks: {summary})")


if __name__ == "__main__":
    main()
