#!/usr/bin/env python3
"""NumPy float64 attention reference for the attention plugin's tests.

    make_reference_data.py DIR [--causal] [--scale S] [--key-lengths FILE] [--bias FILE]

reads DIR/q.npy [B, Hq, Nq, D], DIR/k.npy and DIR/v.npy [B, Hkv, Nk, D] (f32 or f16), computes
O = softmax(scale * Q K^T + bias + mask) V and L = logsumexp (natural log) in float64, and
writes each as two float32 arrays whose sum is the float64 value (AAT's .npy reader has no
float64): DIR/o_hi.npy + DIR/o_lo.npy [B, Hq, Nq, D], DIR/l_hi.npy + DIR/l_lo.npy [B, Hq, Nq].

Masks: query head h uses key/value head h // (Hq // Hkv); causal is bottom-right aligned
(query i sees key j iff j <= i + Nk - Nq); key j of batch b is masked iff j >= key_lengths[b];
the bias (f32) broadcasts from [B or 1, Hq or 1, Nq, Nk]. A row with no visible key gives
O = 0 and L = -inf.

`attention_reference` is importable (the CLI test uses it).
"""
import argparse
import os
import sys

import numpy as np


def attention_reference(q, k, v, causal=False, scale=None, key_lengths=None, bias=None):
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    B, Hq, Nq, D = q.shape
    Bk, Hkv, Nk, Dk = k.shape
    assert Bk == B and Dk == D and v.shape == k.shape and Hq % Hkv == 0, (q.shape, k.shape, v.shape)
    group = Hq // Hkv
    k = np.repeat(k, group, axis=1)  # head h -> kv head h // group
    v = np.repeat(v, group, axis=1)
    scale = 1.0 / np.sqrt(D) if scale is None else float(scale)

    s = scale * np.einsum("bhid,bhjd->bhij", q, k)
    if bias is not None:
        s = s + np.asarray(bias, dtype=np.float64)  # broadcasts [B|1, H|1, Nq, Nk]
    masked = np.zeros((B, 1, Nq, Nk), dtype=bool)
    if causal:
        i = np.arange(Nq)[:, None]
        j = np.arange(Nk)[None, :]
        masked = masked | (j > i + Nk - Nq)[None, None]
    if key_lengths is not None:
        lengths = np.asarray(key_lengths, dtype=np.int64).reshape(B)
        masked = masked | (np.arange(Nk)[None, None, None, :] >= lengths[:, None, None, None])
    s = np.where(masked, -np.inf, s)

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = s.max(axis=-1, keepdims=True) if Nk > 0 else np.full((B, Hq, Nq, 1), -np.inf)
        empty = m == -np.inf                      # no visible key
        m_safe = np.where(empty, 0.0, m)
        p = np.exp(s - m_safe)                    # two-pass: every term <= 1
        l = p.sum(axis=-1, keepdims=True)
        o = np.einsum("bhij,bhjd->bhid", p, v) / np.where(l == 0, 1.0, l)
        o = np.where(empty, 0.0, o)
        lse = np.where(empty, -np.inf, m_safe + np.log(np.where(l == 0, 1.0, l)))[..., 0]
    return o, lse


def split_hi_lo(x):
    """float64 -> (hi, lo) float32 with hi + lo == x to ~2^-48 relative; lo = 0 where hi is not finite."""
    hi = x.astype(np.float32)
    with np.errstate(invalid="ignore"):
        lo = np.where(np.isfinite(hi), x - hi.astype(np.float64), 0.0).astype(np.float32)
    return hi, lo


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--scale", type=float)
    parser.add_argument("--key-lengths")
    parser.add_argument("--bias")
    args = parser.parse_args(argv)
    load = lambda name: np.load(os.path.join(args.dir, name))
    q, k, v = load("q.npy"), load("k.npy"), load("v.npy")
    lengths = np.load(args.key_lengths) if args.key_lengths else None
    bias = np.load(args.bias) if args.bias else None
    o, lse = attention_reference(q, k, v, causal=args.causal, scale=args.scale, key_lengths=lengths, bias=bias)
    for name, value in (("o", o), ("l", lse)):
        hi, lo = split_hi_lo(value)
        np.save(os.path.join(args.dir, name + "_hi.npy"), hi)
        np.save(os.path.join(args.dir, name + "_lo.npy"), lo)
    print(f"wrote O {o.shape} and L {lse.shape} to {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
