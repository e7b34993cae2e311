"""Regenerates the .npy fixtures of tests/test_npy.cpp with real NumPy.

Run from this directory with the system interpreter: /usr/bin/python3 generate.py
The expected values are repeated in test_npy.cpp; change both together.
"""
import io

import numpy as np
from numpy.lib import format as npformat


def save(name, array, version=None):
    with open(name, "wb") as f:
        npformat.write_array(f, array, version=version, allow_pickle=False)


def saved_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


f32_2x3 = (np.arange(6, dtype="<f4") * 0.5 - 1.0).reshape(2, 3)

save("f32_2x3.npy", f32_2x3)
save("f16_4.npy", np.array([1.0, -2.0, 0.5, 65504.0], dtype="<f2"))
save("i32_2x2x2.npy", np.arange(-4, 4, dtype="<i4").reshape(2, 2, 2))
save("u8_5.npy", np.array([0, 1, 127, 128, 255], dtype="|u1"))
save("f32_scalar.npy", np.array(3.5, dtype="<f4"))
save("f32_empty_0x3.npy", np.zeros((0, 3), dtype="<f4"))
save("f32_v2_2x3.npy", f32_2x3, version=(2, 0))
save("f32_v3_2x3.npy", f32_2x3, version=(3, 0))
save("f32_fortran_2x3.npy", np.asfortranarray(f32_2x3))
save("f64_3.npy", np.array([1.0, 2.0, 3.0], dtype="<f8"))
save("f32_big_endian_3.npy", np.array([1.0, 2.0, 3.0], dtype=">f4"))

whole = saved_bytes(f32_2x3)
with open("f32_truncated_data.npy", "wb") as f:
    f.write(whole[:-8])  # 16 of the 24 data bytes
with open("f32_truncated_header.npy", "wb") as f:
    f.write(whole[:40])  # ends inside the header dict
