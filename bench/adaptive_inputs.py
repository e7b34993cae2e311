#!/usr/bin/python3
"""NumPy mirror of adaptive attention's inputs and pattern, for docs/adaptive.md.

structured() mirrors aat::pattern::structured_inputs (plugins/pattern/src/synthetic.cpp): the
same construction, NumPy's random numbers (so not the same values). block_map() mirrors the
pattern kernel (plugins/pattern/shaders/pattern_map.comp) and attention_over_map() the
adaptive kernel's math, in float64. Run it to print where the exact attention mass lies:

  /usr/bin/python3 bench/adaptive_inputs.py --length 4096 --causal
"""
import argparse
import math

import numpy as np


def gaussian(length, head_dim=64, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((length, head_dim)) for _ in range(3)]


def structured(length, head_dim=64, seed=1, noise=1.0, sinks=4, sink_logit=12.0, local_logit=18.0,
               local_width=32.0, retrievals=4, retrieval_keys=64, retrieval_queries=64, retrieval_logit=14.0,
               local_dims=None):
    """Q, K, V [N, D] for one head: sink dim 0, retrieval dims 1..R, local walk in 3D/4 dims, noise."""
    n, d = length, head_dim
    rng = np.random.default_rng(seed)
    local_dims = local_dims or 3 * d // 4
    noise_dims = d - 1 - retrievals - local_dims
    root_d = math.sqrt(d)
    q = np.zeros((n, d))
    k = np.zeros((n, d))
    q[:, 0] = math.sqrt(sink_logit * root_d)
    k[:sinks, 0] = math.sqrt(sink_logit * root_d)
    rho = math.exp(-1.0 / local_width)
    walk = np.empty((n, local_dims))
    walk[0] = rng.standard_normal(local_dims)
    steps = rng.standard_normal((n, local_dims)) * math.sqrt(1 - rho * rho)
    for t in range(1, n):
        walk[t] = rho * walk[t - 1] + steps[t]
    walk *= math.sqrt(local_logit * root_d) / np.linalg.norm(walk, axis=1, keepdims=True)
    local0 = 1 + retrievals
    q[:, local0:local0 + local_dims] = walk
    k[:, local0:local0 + local_dims] = walk
    sigma = math.sqrt(noise * math.sqrt(d / noise_dims))
    q[:, local0 + local_dims:] = sigma * rng.standard_normal((n, noise_dims))
    k[:, local0 + local_dims:] = sigma * rng.standard_normal((n, noise_dims))
    amp = math.sqrt(retrieval_logit * root_d)
    passages = []
    for r in range(retrievals):
        lk, lq = min(retrieval_keys, n), min(retrieval_queries, n)
        key_lo = min(sinks, n - lk)
        kb = int(rng.integers(key_lo, max(key_lo, n // 2 - lk) + 1))
        query_lo = min(kb + n // 4, n - lq)
        qa = int(rng.integers(query_lo, max(query_lo, n - lq) + 1))
        k[kb:kb + lk, 1 + r] = amp
        q[qa:qa + lq, 1 + r] = amp
        passages.append((kb, qa))
    v = rng.standard_normal((n, d))
    return q, k, v, passages


def visible(nq, nk, causal):
    """Boolean [Nq, Nk]: query row a sees key j."""
    a = np.arange(nq)[:, None]
    j = np.arange(nk)[None, :]
    return (j <= a + nk - nq) if causal else np.ones((nq, nk), bool)


def exact_attention(q, k, v, causal, scale=None):
    scale = scale or 1 / math.sqrt(q.shape[1])
    s = scale * q @ k.T
    s[~visible(len(q), len(k), causal)] = -np.inf
    m = s.max(axis=1, keepdims=True)
    w = np.exp(s - m)
    w /= w.sum(axis=1, keepdims=True)
    return w @ v, w


def block_mass(w, bq, bk):
    """Exact mass of each (query tile, key tile) block, averaged over the tile's rows."""
    nq, nk = w.shape
    tq, tk = -(-nq // bq), -(-nk // bk)
    pad = np.zeros((tq * bq, tk * bk))
    pad[:nq, :nk] = w
    return pad.reshape(tq, bq, tk, bk).sum(axis=(1, 3)) / np.array([min(bq, nq - i * bq) for i in range(tq)])[:, None]


def block_map(q, k, causal, bq=32, bk=64, mass=0.95, pool2=0.5, pool4=0.25, sink_tiles=1, window=None, halo=1,
              estimator="row", variance=True, min_full=0, cap=8.0, query_group=4):
    """(density, levels) [Tq, Tk] as the pattern kernel computes them (0 full .. 3 skip, 4 masked)."""
    nq, nk, d = len(q), len(k), q.shape[1]
    window = bk if window is None else window
    tq, tk = -(-nq // bq), -(-nk // bk)
    vis = visible(nq, nk, causal)
    scale = 1 / math.sqrt(d)
    kmean = np.stack([k[j * bk:(j + 1) * bk].mean(0) for j in range(tk)])
    kvar = np.stack([k[j * bk:(j + 1) * bk].var(0) for j in range(tk)])
    counts = np.stack([vis[:, j * bk:(j + 1) * bk].sum(1) for j in range(tk)], 1).astype(float)  # [Nq, Tk]

    def scores(x, n):
        s = scale * x @ kmean.T + np.log(np.maximum(n, 1e-30))
        if variance:
            spread = 0.5 * scale * scale * (x * x) @ kvar.T
            s = s + (spread if cap is None else np.minimum(spread, cap))
        return np.where(n > 0, s, -np.inf)

    def softmax(s):
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    levels = np.full((tq, tk), 4, np.uint8)
    density = np.zeros((tq, tk))
    t_full, t2, t4 = mass, mass + (1 - mass) * pool2, mass + (1 - mass) * (pool2 + pool4)
    for i in range(tq):
        q0, q1 = i * bq, min((i + 1) * bq, nq)
        pairs = counts[q0:q1].sum(0)
        if estimator == "row":
            starts = range(q0, q1, query_group)
            xs = np.stack([q[a:min(a + query_group, q1)].mean(0) for a in starts])
            ns = np.stack([counts[a:min(a + query_group, q1)].mean(0) for a in starts])
            weights = np.array([min(a + query_group, q1) - a for a in starts], float) * (ns.sum(1) > 0)
            p = softmax(scores(xs, ns))
            p = np.where(np.isfinite(p), p, 0.0)
            dens = (weights[:, None] * p).sum(0) / max(weights.sum(), 1.0)
        else:
            dens = softmax(scores(q[q0:q1].mean(0), pairs / (q1 - q0)))
        dens = np.where(pairs > 0, dens, 0.0)
        density[i] = dens
        full_vis = np.array([vis[q0:q1, j * bk:(j + 1) * bk].all() for j in range(tk)])
        off = nk - nq
        lo, hi = q0 + off - window, q1 - 1 + off + (0 if causal else window)
        forced = np.array([j < sink_tiles or (min((j + 1) * bk, nk) - 1 >= lo and j * bk <= hi) for j in range(tk)])
        forced &= pairs > 0
        levels[i, pairs > 0] = 0
        if mass >= 1:
            continue
        order = sorted([j for j in range(tk) if pairs[j] > 0 and not forced[j]], key=lambda j: (-dens[j], j))
        before = dens[forced].sum()
        ranked = []
        for rank, j in enumerate(order):
            levels[i, j] = 0 if before < t_full or rank < min_full else 1 if before < t2 else 2 if before < t4 else 3
            if levels[i, j] == 0:
                ranked.append(j)
            before += dens[j]
        for j in ranked:
            for n in range(max(0, j - halo), min(tk, j + halo + 1)):
                if 0 < levels[i, n] < 4:
                    levels[i, n] = 0
        for j in range(tk):
            if levels[i, j] in (1, 2) and not full_vis[j]:
                levels[i, j] = 0
    return density, levels


def _pooled(x, p):
    """Means of consecutive groups of p rows (the last group may be shorter) and group sizes."""
    n = len(x)
    groups = -(-n // p)
    pad = np.zeros((groups * p, x.shape[1]))
    pad[:n] = x
    counts = np.minimum(p, n - np.arange(groups) * p)
    return pad.reshape(groups, p, -1).sum(1) / counts[:, None], counts


def attention_over_map(q, k, v, levels, causal, bq=32, bk=64):
    """The adaptive kernel's output for a map (float64)."""
    nq, nk, d = len(q), len(k), q.shape[1]
    scale = 1 / math.sqrt(d)
    vis = visible(nq, nk, causal)
    out = np.zeros((nq, d))
    for i in range(levels.shape[0]):
        q0, q1 = i * bq, min((i + 1) * bq, nq)
        ks, vs, bias, mask = [], [], [], []
        for j in range(levels.shape[1]):
            k0, k1 = j * bk, min((j + 1) * bk, nk)
            lvl = int(levels[i, j])
            block = vis[q0:q1, k0:k1]
            if lvl >= 3 or not block.any():
                continue
            if not block.all():
                lvl = 0
            if lvl == 0:
                ks.append(k[k0:k1]); vs.append(v[k0:k1]); bias.append(np.zeros(k1 - k0)); mask.append(block)
            else:
                kp, counts = _pooled(k[k0:k1], 1 << lvl)
                vp, _ = _pooled(v[k0:k1], 1 << lvl)
                ks.append(kp); vs.append(vp); bias.append(np.log(counts)); mask.append(np.ones((q1 - q0, len(kp)), bool))
        if not ks:
            continue
        s = scale * q[q0:q1] @ np.concatenate(ks).T + np.concatenate(bias)[None, :]
        s[~np.concatenate(mask, axis=1)] = -np.inf
        w = np.exp(s - s.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        out[q0:q1] = w @ np.concatenate(vs)
    return out


def ifq(o, exact):
    return 1 - np.linalg.norm(o - exact) / np.linalg.norm(exact)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", type=int, default=2048)
    ap.add_argument("--causal", action="store_true")
    ap.add_argument("--kind", choices=["structured", "gaussian"], default="structured")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mass", type=float, nargs="*", default=[0.8, 0.9, 0.95, 0.99])
    a = ap.parse_args()
    if a.kind == "structured":
        q, k, v, passages = structured(a.length, seed=a.seed)
    else:
        q, k, v = gaussian(a.length, seed=a.seed)
        passages = []
    o, w = exact_attention(q, k, v, a.causal)
    n = a.length
    sink = w[:, :4].sum(1).mean()
    near = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]) <= 64
    local = (w * near).sum(1).mean()
    print(f"{a.kind} N={n}{' causal' if a.causal else ''}: mean mass on sinks {sink:.3f}, "
          f"within 64 tokens {local:.3f}, elsewhere {1 - sink - local:.3f}; passages {passages}")
    for m in a.mass:
        _, levels = block_map(q, k, a.causal, mass=m)
        approx = attention_over_map(q, k, v, levels, a.causal)
        vis = levels < 4
        share = [((levels == l) & vis).sum() / vis.sum() for l in range(4)]
        cost = sum(((levels == l).sum() / (1 << l)) for l in range(3))
        print(f"  mass {m}: IFQ {ifq(approx, o):.5f}  block CER {vis.sum() / cost:.2f}  "
              f"full {share[0]:.2f} pool2 {share[1]:.2f} pool4 {share[2]:.2f} skip {share[3]:.2f}")


if __name__ == "__main__":
    main()
