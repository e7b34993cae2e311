"""AAT: attention and geometric kernels as Vulkan compute shaders, from Python.

    import numpy as np, aat
    q = k = v = np.random.rand(1, 8, 128, 64).astype(np.float32)
    o = aat.attention(q, k, v, causal=True)

NumPy arrays in and out: inputs are uploaded straight from their memory, results downloaded
straight into new arrays. Device work runs with the GIL released; an aat.Context (and the
default one) may be shared by several Python threads. Errors raise aat.Error (a RuntimeError)
carrying the framework's message; e.code names the error ("size_mismatch", "not_found", ...).
"""

import atexit as _atexit

from . import _aat
from ._aat import (  # noqa: F401  (re-exported)
    Context,
    Error,
    attention,
    default_context,
    devices,
    plugins,
    run,
    run_command,
)

__version__ = _aat.version()
__all__ = [
    "Context", "Error", "adaptive_attention", "attention", "default_context", "devices", "flow",
    "geodesic", "plugins", "run", "run_command", "__version__",
]

# Close the default context before the interpreter tears down (not in a static destructor).
_atexit.register(_aat._reset_default_context)


def _not_built(name, plugin):
    def missing(*args, **kwargs):
        raise NotImplementedError(
            f"aat.{name}: this build of the module has no '{plugin}' plugin API "
            f"(plugins/{plugin}/include was not found when it was configured)")
    missing.__name__ = name
    return missing


geodesic = getattr(_aat, "geodesic", None) or _not_built("geodesic", "geodesic")
flow = getattr(_aat, "flow", None) or _not_built("flow", "flow")


adaptive_attention = getattr(_aat, "adaptive_attention", None) or _not_built("adaptive_attention", "adaptive")
