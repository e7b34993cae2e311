"""aat.scaled_dot_product_attention against a NumPy transcription of PyTorch's documented
reference (torch.nn.functional.scaled_dot_product_attention), in float64.

Tolerance: |o - ref| <= 2e-5 (1 + |ref|) for float32 (f32 accumulation, as in test_aat.py), 1e-3 for
float16 (the final rounding of o to f16, the reference computed from the f16-rounded inputs).
tests/python/check_sdpa_against_torch.py compares with PyTorch itself where it is installed.
"""
import unittest
import zlib

import numpy as np

import aat


def torch_reference(query, key, value, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """PyTorch's documented reference implementation, in NumPy float64. A row with no visible key
    gives 0 (PyTorch's math backend since 2.5) rather than NaN."""
    q, k, v = (np.asarray(x, np.float64) for x in (query, key, value))
    L, S = q.shape[-2], k.shape[-2]
    scale_factor = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    attn_bias = np.zeros((L, S))
    if is_causal:
        assert attn_mask is None
        attn_bias[~np.tril(np.ones((L, S), bool))] = -np.inf
    if attn_mask is not None:
        mask = np.asarray(attn_mask)
        attn_bias = np.where(mask, 0.0, -np.inf) + attn_bias if mask.dtype == bool else mask + attn_bias
    if enable_gqa:
        k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    w = q @ np.swapaxes(k, -1, -2) * scale_factor + attn_bias
    m = w.max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.exp(w - m)
    l = p.sum(-1, keepdims=True)
    return np.where(l > 0, (p / np.where(l > 0, l, 1)) @ v, 0.0)


class SdpaTest(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(zlib.crc32(self.id().encode()))
        aat.default_context().take_validation_messages()

    def tearDown(self):
        self.assertEqual(aat.default_context().take_validation_messages(), [])

    def normal(self, *shape, dtype=np.float32):
        return self.rng.standard_normal(shape).astype(dtype)

    def check(self, q, k, v, tol=2e-5, **kwargs):
        got = aat.scaled_dot_product_attention(q, k, v, **kwargs)
        want = torch_reference(q, k, v, **kwargs)
        self.assertEqual(got.shape, want.shape)
        self.assertEqual(got.dtype, q.dtype)
        err = np.abs(got.astype(np.float64) - want) / (1 + np.abs(want))
        self.assertLessEqual(float(err.max(initial=0)), tol, f"{kwargs}: max relative error {err.max():.3g}")
        return got

    def test_plain_and_scaled(self):
        q, k, v = self.normal(2, 3, 17, 64), self.normal(2, 3, 23, 64), self.normal(2, 3, 23, 64)
        self.check(q, k, v)
        self.check(q, k, v, scale=0.05)

    def test_causal_is_top_left_aligned_for_every_length_ratio(self):
        for L, S in ((20, 20), (7, 40), (40, 7), (1, 9), (9, 1)):
            with self.subTest(L=L, S=S):
                self.check(self.normal(1, 2, L, 32), self.normal(1, 2, S, 32), self.normal(1, 2, S, 32), is_causal=True)

    def test_boolean_mask_true_means_attend_broadcast_over_batch_and_heads(self):
        q, k, v = self.normal(3, 4, 12, 32), self.normal(3, 4, 15, 32), self.normal(3, 4, 15, 32)
        for shape in ((12, 15), (1, 15), (3, 1, 12, 15), (1, 4, 12, 15), (3, 4, 12, 15), (4, 1, 15)):
            with self.subTest(mask=shape):
                mask = self.rng.random(shape) > 0.3
                mask[..., 0] = True  # no fully masked row here
                self.check(q, k, v, attn_mask=mask)

    def test_float_mask_is_added_to_the_scores(self):
        q, k, v = self.normal(2, 2, 9, 16), self.normal(2, 2, 11, 16), self.normal(2, 2, 11, 16)
        for shape in ((9, 11), (2, 1, 9, 11), (11,)):
            with self.subTest(mask=shape):
                self.check(q, k, v, attn_mask=self.normal(*shape) * 3)
        mask = np.zeros((9, 11), np.float32)
        mask[:, 5:] = -np.inf
        self.check(q, k, v, attn_mask=mask)

    def test_fully_masked_rows_give_zero(self):
        q, k, v = self.normal(1, 1, 4, 8), self.normal(1, 1, 6, 8), self.normal(1, 1, 6, 8)
        mask = np.ones((4, 6), bool)
        mask[2] = False
        out = self.check(q, k, v, attn_mask=mask)
        self.assertTrue(np.all(out[0, 0, 2] == 0))

    def test_grouped_query_and_broadcast_key_value_heads(self):
        q = self.normal(2, 8, 10, 32)
        k, v = self.normal(2, 2, 13, 32), self.normal(2, 2, 13, 32)
        self.check(q, k, v, enable_gqa=True)
        self.check(q, k, v, enable_gqa=True, is_causal=True)
        k1, v1 = self.normal(2, 1, 13, 32), self.normal(2, 1, 13, 32)
        self.check(q, k1, v1)  # one key/value head broadcasts, as PyTorch's matmul does

    def test_head_dims_of_any_size_and_a_different_value_dim(self):
        for E, Ev in ((20, 20), (64, 24), (5, 130), (1, 1)):
            with self.subTest(E=E, Ev=Ev):
                self.check(self.normal(1, 2, 6, E), self.normal(1, 2, 7, E), self.normal(1, 2, 7, Ev))

    def test_three_and_two_dim_inputs_and_extra_batch_dims(self):
        self.check(self.normal(3, 10, 16), self.normal(3, 12, 16), self.normal(3, 12, 16), is_causal=True)
        self.check(self.normal(10, 16), self.normal(12, 16), self.normal(12, 16))
        self.check(self.normal(2, 3, 2, 5, 16), self.normal(2, 3, 2, 6, 16), self.normal(2, 3, 2, 6, 16))
        self.check(self.normal(2, 3, 2, 5, 16), self.normal(1, 1, 2, 6, 16), self.normal(1, 1, 2, 6, 16))

    def test_float16(self):
        q, k, v = (self.normal(1, 2, 16, 64, dtype=np.float16) for _ in range(3))
        self.check(q, k, v, tol=1e-3, is_causal=True)

    def test_array_likes(self):
        q = self.normal(1, 1, 3, 8)
        out = aat.scaled_dot_product_attention(q.tolist(), memoryview(q), q)
        np.testing.assert_allclose(out, torch_reference(q, q, q), rtol=2e-5, atol=2e-5)

    def test_errors_name_the_argument_and_never_print_arrays(self):
        q = np.full((1, 2, 4, 8), 12345.678, np.float32)
        k = v = np.full((1, 1, 4, 8), 12345.678, np.float32)
        cases = [
            (TypeError, "is_causal", dict(is_causal="yes")),
            (TypeError, "enable_gqa", dict(enable_gqa=1)),
            (ValueError, "dropout", dict(dropout_p=0.1)),
            (ValueError, "not both", dict(is_causal=True, attn_mask=np.ones((4, 4), bool))),
            (ValueError, "attn_mask", dict(attn_mask=np.ones((3, 4), bool))),
            (TypeError, "scale", dict(scale="big")),
        ]
        for error, needle, kwargs in cases:
            with self.subTest(kwargs=list(kwargs)):
                with self.assertRaises(error) as caught:
                    aat.scaled_dot_product_attention(q, k, v, **kwargs)
                self.assertIn(needle, str(caught.exception))
                self.assertNotIn("12345", str(caught.exception))
        with self.assertRaises(ValueError) as caught:
            aat.scaled_dot_product_attention(q, np.ones((1, 3, 4, 8), np.float32), np.ones((1, 3, 4, 8), np.float32),
                                             enable_gqa=True)
        self.assertIn("multiple", str(caught.exception))
        with self.assertRaises(TypeError) as caught:
            aat.scaled_dot_product_attention(q.astype(np.float64), k, v)
        self.assertIn("float64", str(caught.exception))


class TorchTensorTest(unittest.TestCase):
    """With PyTorch installed (optional; Debian's python3-torch is 1.13): CPU tensors in, a tensor
    out, and the refusals. Skipped without it."""

    @classmethod
    def setUpClass(cls):
        try:
            import torch  # noqa: F401
        except ImportError:
            raise unittest.SkipTest("torch is not installed")

    def test_cpu_tensors_in_and_a_tensor_out(self):
        import torch
        g = torch.Generator().manual_seed(1)
        q, k, v = (torch.randn(1, 2, 9, 16, generator=g) for _ in range(3))
        out = aat.scaled_dot_product_attention(q, k, v, is_causal=True)
        self.assertIsInstance(out, torch.Tensor)
        want = torch_reference(q.numpy(), k.numpy(), v.numpy(), is_causal=True)
        np.testing.assert_allclose(out.numpy(), want, rtol=2e-5, atol=2e-5)
        o = aat.attention(q, k, v)  # the other functions take tensors too
        np.testing.assert_allclose(o, torch_reference(q.numpy(), k.numpy(), v.numpy()), rtol=2e-5, atol=2e-5)

    def test_tensors_that_require_grad_are_refused(self):
        import torch
        q = torch.randn(1, 1, 4, 8, requires_grad=True)
        with self.assertRaises(TypeError) as caught:
            aat.scaled_dot_product_attention(q, q.detach(), q.detach())
        self.assertIn("detach", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
