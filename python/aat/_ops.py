"""Ops by name, and the friendly functions over them.

Every op a plugin offers runs through ``aat.run(name, **arguments)``: tensors and parameters by
the names of the op's signature (``aat.ops()`` lists them). The functions below are thin sugar
over it, with the signatures earlier versions had.
"""

import numbers

from . import _aat


def run_op(name, context=None, **arguments):
    """Runs the op ``name``; returns ({output name: array}, report dict with gpu_ms)."""
    return _aat.run_op(name, arguments, context)


def _available(name):
    return any(op["name"] == name for op in _aat.ops())


def _not_available(function, op):
    raise NotImplementedError(f"aat.{function}: no plugin offers the op '{op}' (aat.ops() lists those found on "
                              "AAT_PLUGIN_PATH and in the build's or install's plugin folder)")


def _check_types(function, signature, **values):
    """pybind11's refusal of a wrong argument type, which aat._guard shows with arguments
    described by type and shape."""
    for name, (value, types) in values.items():
        if value is not None and not isinstance(value, types):
            raise TypeError(f"{function}(): incompatible function arguments. The following argument types are "
                            f"supported:\n    1. ({signature})")


def attention(q, k, v, causal=False, scale=None, key_lengths=None, bias=None, return_lse=False, splits=None,
              context=None):
    """Exact attention o = softmax(scale * q k^T + mask + bias) v, FlashAttention-style.

    q: [B, Hq, Nq, D]; k, v: [B, Hkv, Nk, D]; float32 or float16 (all alike; o follows q's dtype);
    Hq a multiple of Hkv; D a multiple of 8 up to 256.
    causal: query i sees keys j <= i + Nk - Nq. scale: default 1/sqrt(D).
    key_lengths: ints [B], keys j >= key_lengths[b] masked. bias: float32 broadcastable from [B|1, H|1, Nq, Nk].
    return_lse: also return the row log-sum-exp (float32 [B, Hq, Nq]) as (o, lse).
    splits: force the K-split count. context: an aat.Context (default: aat.default_context()).
    The op 'attention': aat.run("attention", q=q, k=k, v=v, causal=True) does the same.
    """
    _check_types("attention", "q, k, v, causal: bool = False, scale: Optional[float] = None, key_lengths = None, "
                 "bias = None, return_lse: bool = False, splits: Optional[int] = None, context = None",
                 causal=(causal, bool), scale=(scale, numbers.Real), return_lse=(return_lse, bool),
                 splits=(splits, numbers.Integral))
    outputs, _ = run_op("attention", context, q=q, k=k, v=v, causal=causal, scale=scale, key_lengths=key_lengths,
                        bias=bias, splits=splits)
    return (outputs["out"], outputs["lse"]) if return_lse else outputs["out"]


def geodesic(phi, states, *, steps, dt, extent=(0.0, 0.0, 1.0, 1.0), context=None):
    """Geodesics of the metric e^{2 phi}(dx^2 + dy^2), integrated with RK4 on the device.

    phi: float32 [ny, nx] on the rectangle extent = (x0, y0, x1, y1). states: float32 [M, 4] = (x, y, x', y').
    Returns float32 [M, 6] = (x, y, x', y', length, status); status 1: left the rectangle.
    """
    if not _available("geodesic"):
        _not_available("geodesic", "geodesic")
    x0, y0, x1, y1 = (float(e) for e in extent)
    outputs, _ = run_op("geodesic", context, phi=phi, states=states, steps=steps, dt=dt,
                        extent=f"{x0!r},{y0!r},{x1!r},{y1!r}")
    return outputs["out"]


def flow(phi, *, spacing, steps, dt, boundary="periodic", report=False, context=None):
    """Ricci flow d phi/dt = e^{-2 phi} Laplacian(phi) of the metric e^{2 phi}(dx^2 + dy^2).

    phi: float32 [ny, nx], grid spacing `spacing`, `steps` explicit steps of `dt` (split into stable
    sub-steps when needed), boundary "periodic" or "neumann". Returns phi after steps * dt; with
    report=True, (phi, {substeps, dt_substep, stable_dt, min_phi, max_phi, gpu_ms, ...}).
    """
    if not _available("flow"):
        _not_available("flow", "flow")
    outputs, info = run_op("flow", context, phi=phi, spacing=spacing, steps=steps, dt=dt, boundary=boundary)
    return (outputs["out"], info) if report else outputs["out"]


def adaptive_attention(q, k, v, causal=False, mass=None, report=False, *, scale=None, key_lengths=None, mode=None,
                       epsilon=None, exact_below_cer=None, context=None):
    """Adaptive attention: pattern -> router -> attention over the kept blocks -> exact merge.

    Shapes, dtypes and masks as aat.attention (no bias). The block map's rule: mode="bound" (the
    default) keeps all but at most epsilon (default 0.01) of each query group's mass at full
    resolution, by an upper estimate over a lower bound; mode="mass" (implied by mass=) keeps the
    share `mass` of the estimated mass (>= 1: every visible block). exact_below_cer (default 1.5):
    when the map's predicted CER is below it, exact attention runs instead (0: always the plan).
    report=True: also runs exact attention on the same inputs and returns (o, report) where report
    is a dict: ifq (1 - ||o - exact|| / ||exact||), cer (dense / executed FLOPs), ae (exact GPU time /
    adaptive GPU time), exact, planned_cer, levels, stages_ms, ...
    The op 'adaptive': aat.run("adaptive", q=q, k=k, v=v, causal=True) does the same.
    """
    if not _available("adaptive"):
        _not_available("adaptive_attention", "adaptive")
    # The op refuses these too (aat.Error); the function has always raised ValueError.
    if mode is not None and mode not in ("bound", "mass"):
        raise ValueError(f"mode must be 'bound' or 'mass', got '{mode}'")
    rule = mode or ("mass" if mass is not None else "bound")
    if rule == "bound" and mass is not None:
        raise ValueError("mass belongs to the mass rule; the bound rule takes epsilon")
    if rule == "mass" and epsilon is not None:
        raise ValueError("epsilon belongs to the bound rule; the mass rule takes mass")
    outputs, info = run_op("adaptive", context, q=q, k=k, v=v, causal=causal, mass=mass, report=report, scale=scale,
                           key_lengths=key_lengths, mode=mode, epsilon=epsilon, exact_below_cer=exact_below_cer)
    return (outputs["out"], info) if report else outputs["out"]
