"""What the module accepts as an array besides NumPy arrays, and what it says when it refuses one
(never the contents). The torch-specific cases are in test_sdpa.py (skipped without torch)."""
import array
import os
import unittest

import numpy as np

import aat

SOURCE = os.environ.get("AAT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SAXPY = os.path.join(SOURCE, "examples", "shaders", "saxpy.comp")


class ArrayInterface:
    """An object that is no ndarray but offers __array__ (as many libraries' arrays do)."""

    def __init__(self, data):
        self.data = data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)


class DLPackOnly:
    """A DLPack producer (like a torch.Tensor) wrapping an ndarray, on a chosen device type."""

    def __init__(self, data, device_type=1, requires_grad=False):
        self.data, self.device_type, self.requires_grad = data, device_type, requires_grad
        self.dtype = data.dtype

    def __dlpack__(self, stream=None):
        return self.data.__dlpack__()

    def __dlpack_device__(self):
        return (self.device_type, 0)


def expected_attention(q, k, v):
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    p = np.exp(s - s.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)) @ v


class ArrayLikeTest(unittest.TestCase):
    def setUp(self):
        self.q = np.random.default_rng(3).standard_normal((1, 2, 5, 8)).astype(np.float32)
        aat.default_context().take_validation_messages()

    def tearDown(self):
        self.assertEqual(aat.default_context().take_validation_messages(), [])

    def check(self, *inputs):
        out = aat.attention(*inputs)
        self.assertEqual(out.dtype, np.float32)
        np.testing.assert_allclose(out, expected_attention(self.q, self.q, self.q), rtol=2e-5, atol=2e-5)

    def test_nested_lists_become_float32(self):
        self.check(self.q.tolist(), self.q.tolist(), self.q.tolist())

    def test_memoryview_and_array_interface(self):
        self.check(memoryview(self.q), ArrayInterface(self.q), self.q)

    def test_dlpack_producers_on_the_cpu(self):
        self.check(DLPackOnly(self.q), DLPackOnly(self.q), DLPackOnly(self.q))

    def test_integer_lists_become_int32_and_keep_their_range(self):
        # The conversion every function applies to its array arguments (aat._aat._as_numpy).
        self.assertEqual(aat._aat._as_numpy([[1, 2], [3, 4]], "x").dtype, np.int32)
        self.assertEqual(aat._aat._as_numpy(array.array("i", [1, 2]), "x").dtype, np.int32)
        self.assertEqual(aat._aat._as_numpy((0.5, 1.5), "x").dtype, np.float32)
        with self.assertRaises(ValueError) as caught:
            aat._aat._as_numpy([1, 2**40], "key_lengths")
        self.assertIn("int32 range", str(caught.exception))
        lengths = aat.attention(self.q, self.q, self.q, key_lengths=[3])  # as in test_aat, a list
        self.assertEqual(lengths.shape, self.q.shape)

    def test_refusals_name_the_argument_and_not_the_contents(self):
        marker = np.full((1, 1, 4, 8), 98765.4321, np.float32)
        cases = [
            (DLPackOnly(marker, device_type=2), "device other than the CPU"),
            (DLPackOnly(marker, requires_grad=True), "requires grad"),
            (object(), "expected an array"),
            (["a", "b"], "expected an array"),
            (marker.astype(np.float64), "float64"),
        ]
        for value, needle in cases:
            with self.subTest(needle=needle):
                with self.assertRaises(TypeError) as caught:
                    aat.attention(value, marker, marker)
                self.assertIn(needle, str(caught.exception))
                self.assertIn("q", str(caught.exception))
                self.assertNotIn("98765", str(caught.exception))

    def test_a_wrong_argument_type_describes_arrays_by_dtype_and_shape(self):
        marker = np.full((1, 1, 4, 8), 98765.4321, np.float32)
        with self.assertRaises(TypeError) as caught:
            aat.attention(marker, marker, marker, causal="yes")
        text = str(caught.exception)
        self.assertIn("causal='yes'", text)
        self.assertIn("ndarray(dtype=float32, shape=(1, 1, 4, 8))", text)
        self.assertNotIn("98765", text)

    def test_run_reads_zero_past_the_end_of_an_array(self):
        # X has 10 elements, the shader reads 1000: robust buffer access gives 0 (lavapipe) or a
        # value of X (other devices), never another buffer's memory.
        x = np.arange(1, 11, dtype=np.float32)
        y = aat.run(SAXPY, {"X": x, "Y": np.ones(1000, np.float32)}, outputs=["Y"], push={"a": 2.0, "n": 1000},
                    grid=1000)["Y"]
        np.testing.assert_array_equal(y[:10], 2 * x + 1)
        allowed = {1.0} | {float(2 * e + 1) for e in x}
        self.assertLessEqual(set(np.unique(y[10:]).tolist()), allowed)
        if "llvmpipe" in aat.default_context().name:
            self.assertTrue(np.all(y[10:] == 1))


if __name__ == "__main__":
    unittest.main()
