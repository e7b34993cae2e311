"""aat.scaled_dot_product_attention: PyTorch's F.scaled_dot_product_attention on AAT's kernels.

PyTorch's semantics (docs.pytorch.org, torch.nn.functional.scaled_dot_product_attention), mapped
onto aat.attention:
  * shapes: query (..., Hq, L, E), key (..., H, S, E), value (..., H, S, Ev) -> (..., Hq, L, Ev);
    the leading dims broadcast as in PyTorch (a 3-D input's first dim is its "head" dim). E and
    Ev are padded with zeros to a common multiple of 8 (which changes no dot product) and the
    output is cut back to Ev; the default scale is 1/sqrt(E) of the unpadded E.
  * attn_mask: broadcastable to (..., Hq, L, S); a boolean mask is True where a query may attend,
    a float mask is added to the scores. It becomes AAT's additive bias, [B|1, H|1, L, S] float32.
  * is_causal: PyTorch's causal mask is top-left aligned (query i sees keys j <= i), AAT's is
    bottom-right aligned (j <= i + S - L). They agree when L == S; for L < S only the first L keys
    are ever visible, so AAT runs on them; for L > S the first S queries run causally and the rest
    see every key. Combining is_causal with attn_mask is an error, as in PyTorch.
  * enable_gqa: query head h reads key/value head h // (Hq / H) (PyTorch's repeat_interleave),
    which is AAT's GQA; without it H must equal Hq or be 1 (broadcast), as in PyTorch.
  * dtypes: float32 or float16, all three alike; the output has query's dtype.
Differences: dropout_p must be 0 (AAT is for inference); a row whose every key is masked gives 0
(PyTorch's math backend gives 0 as well since 2.5; older versions and some fused kernels give NaN);
no gradients (a tensor that requires grad is refused). Inputs may be NumPy arrays, CPU torch
tensors, or anything else aat.attention takes; a torch.Tensor query gives a torch.Tensor back.
"""

import math
import sys

import numpy as np

from . import _aat
from . import _ops


def _is_bool(x):
    return isinstance(x, (bool, np.bool_))


def _check_flag(name, value):
    if not _is_bool(value):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")


def _dtype_name(array):
    return str(array.dtype)


def _pad_last(x, width):
    if x.shape[-1] == width:
        return x
    pad = [(0, 0)] * (x.ndim - 1) + [(0, width - x.shape[-1])]
    return np.pad(x, pad)


def _as_rank4(x, batch_shape):
    """(..., H, N, D) broadcast to batch_shape + (H, N, D), as [B, H, N, D] (contiguous)."""
    target = tuple(batch_shape) + x.shape[-3:]
    if x.shape != target:
        x = np.broadcast_to(x, target)
    b = int(np.prod(batch_shape)) if batch_shape else 1
    return np.ascontiguousarray(x.reshape((b,) + x.shape[-3:]))


def _mask_to_bias(mask, batch_shape, heads, q_len, kv_len):
    """attn_mask -> AAT's additive bias [B|1, H|1, L, S] float32."""
    full = tuple(batch_shape) + (heads, q_len, kv_len)
    if mask.ndim > len(full):
        raise ValueError(f"attn_mask: {mask.ndim} dims, more than the {len(full)} of the attention weights {full}")
    try:
        np.broadcast_shapes(mask.shape, full)
    except ValueError:
        raise ValueError(f"attn_mask: shape {mask.shape} does not broadcast to the attention weights {full}") from None
    if np.broadcast_shapes(mask.shape, full) != full:
        raise ValueError(f"attn_mask: shape {mask.shape} does not broadcast to the attention weights {full}")
    if mask.dtype == np.bool_:
        bias = np.where(mask, np.float32(0), np.float32(-np.inf))
    elif mask.dtype.kind == "f":
        bias = mask.astype(np.float32)
    else:
        raise TypeError(f"attn_mask: expected a bool or float mask, got dtype {_dtype_name(mask)}")
    bias = bias.reshape((1,) * (len(full) - bias.ndim) + bias.shape)
    lead = bias.shape[:len(batch_shape)]
    b = 1 if all(d == 1 for d in lead) else int(np.prod(batch_shape))
    h = 1 if bias.shape[-3] == 1 else heads
    bias = np.broadcast_to(bias, ((tuple(batch_shape) if b > 1 else (1,) * len(batch_shape)) + (h, q_len, kv_len)))
    return np.ascontiguousarray(bias.reshape(b, h, q_len, kv_len), dtype=np.float32)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False, *, context=None):
    """PyTorch's scaled_dot_product_attention on AAT: softmax(q k^T * scale + mask) v.

    query (..., Hq, L, E), key (..., H, S, E), value (..., H, S, Ev) -> (..., Hq, L, Ev); float32 or
    float16. attn_mask: bool (True = attend) or float (added), broadcastable to (..., Hq, L, S).
    is_causal: top-left aligned, as in PyTorch (query i sees keys j <= i). scale: default 1/sqrt(E).
    enable_gqa: H may divide Hq (query head h reads key/value head h // (Hq / H)). dropout_p must
    be 0. A fully masked row gives 0. context: an aat.Context (default aat.default_context()).
    """
    _check_flag("is_causal", is_causal)
    _check_flag("enable_gqa", enable_gqa)
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float, np.floating, np.integer)):
        raise TypeError(f"dropout_p: expected a float, got {type(dropout_p).__name__}")
    if dropout_p != 0:
        raise ValueError(f"dropout_p = {dropout_p}: AAT's attention is for inference and has no dropout; pass 0")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating, np.integer))):
        raise TypeError(f"scale: expected a float or None, got {type(scale).__name__}")
    if is_causal and attn_mask is not None:
        raise ValueError("attn_mask and is_causal: give one of them, not both (as in PyTorch)")

    torch_out = type(query).__module__.split(".")[0] == "torch"
    q = _aat._as_numpy(query, "query")
    k = _aat._as_numpy(key, "key")
    v = _aat._as_numpy(value, "value")
    for name, x in (("query", q), ("key", k), ("value", v)):
        if x.ndim < 2:
            raise ValueError(f"{name}: expected (..., L, E) with at least 2 dims, got shape {x.shape}")
        if x.dtype not in (np.float32, np.float16):
            raise TypeError(f"{name}: dtype {_dtype_name(x)} is not supported; use float32 or float16 "
                            "(x.astype(np.float32), tensor.float())")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"query, key and value must share a dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    # Rank >= 3 with a "head" dim third from the end (a 2-D input is one head).
    q3, k3, v3 = (x if x.ndim >= 3 else x[None] for x in (q, k, v))
    L, E = q3.shape[-2:]
    S, Ek = k3.shape[-2:]
    Sv, Ev = v3.shape[-2:]
    if Ek != E:
        raise ValueError(f"key: last dim {Ek} differs from query's {E}")
    if Sv != S:
        raise ValueError(f"value: length {Sv} differs from key's {S}")
    if k3.shape[-3] != v3.shape[-3]:
        raise ValueError(f"key and value must have the same number of heads, got {k3.shape[-3]} and {v3.shape[-3]}")
    hq, hkv = q3.shape[-3], k3.shape[-3]
    if enable_gqa:
        if hq % hkv != 0:
            raise ValueError(f"enable_gqa: query heads ({hq}) must be a multiple of key/value heads ({hkv})")
    elif hkv not in (hq, 1):
        raise ValueError(f"key/value heads ({hkv}) differ from query heads ({hq}); "
                         "pass enable_gqa=True for grouped-query attention")
    try:
        batch = np.broadcast_shapes(q3.shape[:-3], k3.shape[:-3], v3.shape[:-3])
    except ValueError:
        raise ValueError(f"the leading dims of query {q.shape}, key {k.shape} and value {v.shape} "
                         "do not broadcast") from None
    width = max(8, -(-max(E, Ev) // 8) * 8)
    if width > 256:
        raise ValueError(f"head dims E = {E}, Ev = {Ev}: AAT supports up to 256")
    scale = 1.0 / math.sqrt(E) if scale is None else float(scale)

    qa = _as_rank4(_pad_last(q3, width), batch)
    ka = _as_rank4(_pad_last(k3, width), batch)
    va = _as_rank4(_pad_last(v3, width), batch)
    bias = None
    if attn_mask is not None:
        bias = _mask_to_bias(_aat._as_numpy(attn_mask, "attn_mask"), batch, hq, L, S)

    def run(qq, kk, vv, causal, b=None):
        return _ops.attention(qq, kk, vv, causal=causal, scale=scale, bias=b, context=context)

    if not is_causal or L == S:
        out = run(qa, ka, va, bool(is_causal), bias)
    elif L < S:  # top-left: only the first L keys are ever visible; then it is square
        out = run(qa, np.ascontiguousarray(ka[:, :, :L]), np.ascontiguousarray(va[:, :, :L]), True)
    else:  # L > S: the first S queries are causal over a square; the rest see every key
        head = run(np.ascontiguousarray(qa[:, :, :S]), ka, va, True)
        tail = run(np.ascontiguousarray(qa[:, :, S:]), ka, va, False)
        out = np.concatenate([head, tail], axis=2)
    out = out[..., :Ev].reshape(tuple(batch) + (hq, L, Ev))
    if q.ndim == 2:
        out = out.reshape(L, Ev)
    out = np.ascontiguousarray(out)
    if torch_out:
        return sys.modules["torch"].from_numpy(out)
    return out
