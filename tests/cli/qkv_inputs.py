"""Random attention inputs for the CLI tests (importable from their heredocs: lib.sh puts
tests/cli on PYTHONPATH)."""
import numpy as np


def save_qkv(rng, prefix, q_shape, kv_shape, dtype=np.float32):
    """Saves PREFIXq.npy [q_shape] and PREFIXk.npy, PREFIXv.npy [kv_shape] of standard normals."""
    for name, shape in (("q", q_shape), ("k", kv_shape), ("v", kv_shape)):
        np.save(f"{prefix}{name}.npy", rng.standard_normal(shape).astype(dtype))
