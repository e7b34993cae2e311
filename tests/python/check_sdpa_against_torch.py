#!/usr/bin/env python3
"""aat.scaled_dot_product_attention against torch.nn.functional.scaled_dot_product_attention itself.

For a machine with PyTorch (CI has none: Debian 12's python3-torch 1.13 predates enable_gqa):

    PYTHONPATH=build/python python3 tests/python/check_sdpa_against_torch.py [--device N] [-v]

Every case runs PyTorch's function on the CPU in float64 (inputs rounded to the case's dtype
first), the reference, and AAT's on its Vulkan device with the same inputs as torch tensors of the
case's dtype. Tolerance |aat - torch| <= tol (1 + |torch|): float32 2e-5, float16 1e-3 (plus 2x
where the device takes the tensor-core path). A row whose every key is masked must be 0 in AAT;
PyTorch gives 0 there too since 2.5 (its math backend), and NaN in older versions: a NaN row from
torch is reported, not counted as a mismatch. Prints one line per failing case (all with -v) and
exits 1 if any case fails, 0 otherwise.
"""
import argparse
import itertools
import sys

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("check_sdpa_against_torch.py: PyTorch is not installed")

import aat


def cases():
    """(name, shapes, kwargs builder, dtype): shapes = (q, k, v) shapes."""
    shapes = [
        ("mha square", (2, 4, 64, 64), (2, 4, 64, 64), (2, 4, 64, 64)),
        ("mha L<S", (1, 8, 37, 64), (1, 8, 300, 64), (1, 8, 300, 64)),
        ("mha L>S", (1, 2, 300, 128), (1, 2, 45, 128), (1, 2, 45, 128)),
        ("decode", (4, 16, 1, 128), (4, 16, 1000, 128), (4, 16, 1000, 128)),
        ("gqa", (2, 32, 128, 128), (2, 8, 128, 128), (2, 8, 128, 128)),
        ("mqa", (1, 12, 50, 64), (1, 1, 70, 64), (1, 1, 70, 64)),
        ("odd dims E=80 Ev=48", (2, 3, 33, 80), (2, 3, 41, 80), (2, 3, 41, 48)),
        ("3-D", (6, 100, 32), (6, 120, 32), (6, 120, 32)),
        ("5-D", (2, 3, 4, 20, 64), (2, 3, 4, 25, 64), (2, 3, 4, 25, 64)),
        ("long", (1, 2, 2048, 64), (1, 2, 2048, 64), (1, 2, 2048, 64)),
    ]
    masks = ["none", "causal", "bool LxS", "bool per batch", "bool key padding", "float", "float -inf band"]
    for (name, qs, ks, vs), mask, dtype in itertools.product(shapes, masks, (torch.float32, torch.float16)):
        yield name, qs, ks, vs, mask, dtype


def make_mask(kind, qs, ks, generator):
    L, S = qs[-2], ks[-2]
    batch = qs[:-3]
    if kind in ("none", "causal"):
        return None
    if kind == "bool LxS":
        m = torch.rand(L, S, generator=generator) > 0.3
        m[:, 0] = True
        return m
    if kind == "bool per batch":
        m = torch.rand(*batch, 1, L, S, generator=generator) > 0.5
        m[..., 0] = True
        return m
    if kind == "bool key padding":  # (B, 1, 1, S): the last keys of each batch masked out
        m = torch.ones(*batch, 1, 1, S, dtype=torch.bool)
        m[..., S - S // 3:] = False
        m[..., 0] = True
        return m
    if kind == "float":
        return torch.randn(L, S, generator=generator) * 2
    m = torch.zeros(L, S)  # a band: only keys near the diagonal
    i, j = torch.meshgrid(torch.arange(L), torch.arange(S), indexing="ij")
    m[(j - i * S // max(L, 1)).abs() > 16] = float("-inf")
    return m


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="", help="AAT device (index or name substring)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case")
    args = parser.parse_args()
    context = aat.Context(args.device)
    print(f"torch {torch.__version__}, aat {aat.__version__} on {context.name}")
    generator = torch.Generator().manual_seed(0)
    failures = total = 0
    for name, qs, ks, vs, mask_kind, dtype in cases():
        total += 1
        q, k, v = (torch.randn(*s, generator=generator).to(dtype) for s in (qs, ks, vs))
        mask = make_mask(mask_kind, qs, ks, generator)
        if mask is not None and mask.dtype != torch.bool:
            mask = mask.to(dtype)
        causal = mask_kind == "causal"
        gqa = qs[-3] != ks[-3] and ks[-3] != 1
        kwargs = dict(attn_mask=mask, is_causal=causal, enable_gqa=gqa)
        mask64 = mask if mask is None or mask.dtype == torch.bool else mask.double()
        want = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), **{**kwargs, "attn_mask": mask64})
        label = f"{name} {tuple(qs)} {mask_kind} {str(dtype).removeprefix('torch.')}"
        try:
            got = aat.scaled_dot_product_attention(q, k, v, context=context, **kwargs)
        except Exception as error:  # noqa: BLE001 - every refusal is a failure here
            failures += 1
            print(f"FAIL {label}: {type(error).__name__}: {error}")
            continue
        got64, want64 = got.double(), want
        torch_nan_rows = torch.isnan(want64).any(-1)
        if torch_nan_rows.any():
            aat_rows = got64[torch_nan_rows]
            note = f" ({int(torch_nan_rows.sum())} fully masked rows: torch NaN, aat {'0' if (aat_rows == 0).all() else 'NOT 0'})"
            if not (aat_rows == 0).all():
                failures += 1
                print(f"FAIL {label}{note}")
                continue
            got64 = got64.masked_fill(torch_nan_rows[..., None], 0)
            want64 = want64.masked_fill(torch_nan_rows[..., None], 0)
        else:
            note = ""
        tol = (2e-5 if dtype == torch.float32 else 1e-3) * 2
        err = ((got64 - want64).abs() / (1 + want64.abs())).max().item() if want64.numel() else 0.0
        ok = got.shape == want.shape and got.dtype == dtype and err <= tol
        if not ok:
            failures += 1
        if not ok or args.verbose:
            print(f"{'ok  ' if ok else 'FAIL'} {label}: shape {tuple(got.shape)}, max rel err {err:.3g} (tol {tol:g}){note}")
    print(f"{total - failures} of {total} cases match torch.nn.functional.scaled_dot_product_attention")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
