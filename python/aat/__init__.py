"""AAT: attention and geometric kernels as Vulkan compute shaders, from Python.

    import numpy as np, aat
    q = k = v = np.random.rand(1, 8, 128, 64).astype(np.float32)
    o = aat.attention(q, k, v, causal=True)
    o = aat.run("attention", q=q, k=k, v=v, causal=True)["out"]       # any op of any plugin, by name
    o = aat.scaled_dot_product_attention(q, k, v, is_causal=True)   # PyTorch's signature and semantics

Arrays in: NumPy arrays (float32, float16, int32, uint8), CPU torch tensors and other DLPack
producers, anything with __array__ or the buffer protocol (memoryview, array.array), and nested
lists of numbers (floats become float32, ints int32). Inputs are uploaded straight from their
memory, results downloaded straight into new NumPy arrays. Device work runs with the GIL
released; an aat.Context (and the default one) may be shared by several Python threads. Errors
raise aat.Error (a RuntimeError) carrying the framework's message; e.code names the error
("size_mismatch", "not_found", ...). No error message prints an array's contents.
"""

import atexit as _atexit
import functools as _functools
import os as _os

from . import _aat
from . import _ops
from ._aat import Context, Error  # noqa: F401  (re-exported)
from ._sdpa import scaled_dot_product_attention as _scaled_dot_product_attention

__version__ = _aat.version()
__all__ = [
    "Context", "Error", "adaptive_attention", "attention", "default_context", "devices", "flow",
    "geodesic", "ops", "plugins", "run", "run_command", "run_op", "scaled_dot_product_attention", "__version__",
]

# Close the default contexts before the interpreter tears down (not in a static destructor).
_atexit.register(_aat._reset_default_context)


def _describe(value):
    """A short description of an argument: its type, dtype and shape, never its contents."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__}(dtype={dtype}, shape={tuple(shape)})"
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"str of {len(value)} characters"
    if isinstance(value, (list, tuple, dict)):
        return f"{type(value).__name__} of {len(value)} items"
    return type(value).__name__


def _guard(function):
    """pybind11 answers a wrong argument type with every argument's repr, whole arrays included;
    this keeps its list of accepted signatures and describes the arguments by type and shape."""
    @_functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except TypeError as error:
            text = str(error)
            if "incompatible function arguments" not in text:
                raise
            given = [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()]
            head = text.split("\n\nInvoked with:")[0]
            raise TypeError(f"{head}\n\nInvoked with: {', '.join(given)}") from None
    return call


def _is_shader(target, args, kwargs):
    """aat.run(shader, bindings, ...) runs a shader file; aat.run(op name, **arguments) an op."""
    if args or "bindings" in kwargs:
        return True
    return str(target).endswith((".comp", ".glsl", ".spv")) or _os.path.isfile(str(target))


def run(target, *args, **kwargs):
    """Runs an op of a plugin by name, or a compute shader file.

    aat.run("attention", q=q, k=k, v=v, causal=True) -> {"out": o, "lse": l}: the op's tensors and
    parameters by the names of its signature (aat.ops() lists every op's); returns its outputs.
    context=: an aat.Context (default: aat.default_context()).

    aat.run(shader, bindings, outputs=None, push=None, spec=None, grid=1, context=None): a compute
    shader (GLSL .comp, or .spv) with no C++ written for it (see aat._aat.run_shader).
    """
    if _is_shader(target, args, kwargs):
        return _aat.run_shader(target, *args, **kwargs)
    context = kwargs.pop("context", None)
    return _ops.run_op(target, context, **kwargs)[0]


attention = _guard(_ops.attention)
default_context = _guard(_aat.default_context)
devices = _guard(_aat.devices)
ops = _guard(_aat.ops)
plugins = _guard(_aat.plugins)
run = _guard(run)
run_op = _guard(_ops.run_op)
run_command = _guard(_aat.run_command)
scaled_dot_product_attention = _guard(_scaled_dot_product_attention)
geodesic = _guard(_ops.geodesic)
flow = _guard(_ops.flow)
adaptive_attention = _guard(_ops.adaptive_attention)
