"""The Python module against NumPy references (run by CTest as python_module).

Tolerances as in plugins/attention/tests/test_attention.cpp: f32 storage |o - ref| <= 2e-5 (1 + |ref|)
(f32 accumulation over D <= 64 and Nk <= 80 terms), f16 storage 1e-3 (the final rounding of o to
f16, with the reference computed from the f16-rounded inputs). Validation is on (AAT_VALIDATION=1);
every test fails on any validation message.
"""
import os
import threading
import unittest
import zlib

import numpy as np

import aat

SOURCE = os.environ.get("AAT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SAXPY = os.path.join(SOURCE, "examples", "shaders", "saxpy.comp")


def reference_attention(q, k, v, causal=False, scale=None, key_lengths=None, bias=None):
    """O and L in float64, from the math: softmax(scale q k^T + mask + bias) v."""
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    b, hq, nq, d = q.shape
    hkv, nk = k.shape[1], k.shape[2]
    k = np.repeat(k, hq // hkv, axis=1)
    v = np.repeat(v, hq // hkv, axis=1)
    s = np.einsum("bhid,bhjd->bhij", q, k) * (1.0 / np.sqrt(d) if scale is None else scale)
    if bias is not None:
        s = s + np.asarray(bias, np.float64)
    visible = np.ones((b, 1, nq, nk), bool)
    if causal:
        visible &= (np.arange(nk)[None, :] <= np.arange(nq)[:, None] + nk - nq)[None, None]
    if key_lengths is not None:
        visible &= (np.arange(nk)[None, :] < np.asarray(key_lengths)[:, None])[:, None, None, :]
    s = np.where(visible, s, -np.inf)
    m = s.max(-1, keepdims=True)
    safe_m = np.where(np.isfinite(m), m, 0.0)
    p = np.exp(s - safe_m)
    l = p.sum(-1, keepdims=True)
    o = np.where(l > 0, (p @ v) / np.where(l > 0, l, 1), 0.0)
    lse = np.where(l[..., 0] > 0, np.log(np.where(l[..., 0] > 0, l[..., 0], 1)) + safe_m[..., 0], -np.inf)
    return o, lse


def assert_close(test, got, want, tol, what):
    got = np.asarray(got, np.float64)
    both_inf = np.isinf(got) & np.isinf(want) & (np.sign(got) == np.sign(want))
    err = np.where(both_inf, 0.0, np.abs(got - want) / (1.0 + np.abs(want)))
    test.assertTrue(np.all(err <= tol), f"{what}: max relative error {err.max():.3g} > {tol}")


class AatTest(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(zlib.crc32(self.id().encode()))
        aat.default_context().take_validation_messages()

    def tearDown(self):
        self.assertEqual(aat.default_context().take_validation_messages(), [])

    def randn(self, *shape, dtype=np.float32):
        return self.rng.standard_normal(shape).astype(dtype)

    # ---- module basics -----------------------------------------------------------------

    def test_version_and_devices(self):
        self.assertRegex(aat.__version__, r"^\d+\.\d+\.\d+$")
        devices = aat.devices()
        self.assertGreaterEqual(len(devices), 1)
        self.assertEqual(sum(d["default"] for d in devices), 1)
        for d in devices:
            self.assertIsInstance(d["name"], str)
            self.assertIsInstance(d["type"], str)  # aat::to_string(DeviceType): "discrete GPU", "CPU", ...
        ctx = aat.default_context()
        self.assertTrue(ctx.validation)
        self.assertIn(ctx.name, [d["name"] for d in devices])

    def test_explicit_context_by_index(self):
        default = next(d for d in aat.devices() if d["default"])
        ctx = aat.Context(str(default["index"]))
        self.assertEqual(ctx.name, default["name"])
        q = self.randn(1, 1, 8, 16)
        o = aat.attention(q, q, q, context=ctx)
        assert_close(self, o, reference_attention(q, q, q)[0], 2e-5, "o")
        self.assertEqual(ctx.take_validation_messages(), [])
        with self.assertRaises(aat.Error) as caught:
            aat.Context("no-such-device-xyz")
        self.assertEqual(caught.exception.code, "not_found")
        self.assertIn("no-such-device-xyz", str(caught.exception))

    # ---- attention ---------------------------------------------------------------------

    def test_attention_f32_matches_numpy(self):
        for causal in (False, True):
            q, k, v = self.randn(2, 4, 33, 64), self.randn(2, 4, 47, 64), self.randn(2, 4, 47, 64)
            o = aat.attention(q, k, v, causal=causal)
            self.assertEqual(o.shape, q.shape)
            self.assertEqual(o.dtype, np.float32)
            assert_close(self, o, reference_attention(q, k, v, causal=causal)[0], 2e-5, f"o causal={causal}")

    def test_attention_return_lse_scale_and_gqa(self):
        q, k, v = self.randn(1, 4, 20, 32), self.randn(1, 2, 29, 32), self.randn(1, 2, 29, 32)
        o, lse = aat.attention(q, k, v, scale=0.3, return_lse=True)
        want_o, want_lse = reference_attention(q, k, v, scale=0.3)
        self.assertEqual(lse.shape, (1, 4, 20))
        self.assertEqual(lse.dtype, np.float32)
        assert_close(self, o, want_o, 2e-5, "o")
        assert_close(self, lse, want_lse, 2e-5, "lse")

    def test_attention_f16(self):
        q, k, v = (self.randn(1, 2, 24, 64, dtype=np.float16) for _ in range(3))
        o = aat.attention(q, k, v, causal=True)
        self.assertEqual(o.dtype, np.float16)
        assert_close(self, o, reference_attention(q, k, v, causal=True)[0], 1e-3, "o f16")

    def test_attention_key_lengths_and_bias(self):
        q, k, v = self.randn(2, 2, 9, 16), self.randn(2, 2, 21, 16), self.randn(2, 2, 21, 16)
        lengths = [4, 21]  # a list: converted to int32
        bias = self.randn(1, 2, 9, 21)
        o, lse = aat.attention(q, k, v, key_lengths=lengths, bias=bias, return_lse=True)
        want_o, want_lse = reference_attention(q, k, v, key_lengths=lengths, bias=bias)
        assert_close(self, o, want_o, 2e-5, "o")
        assert_close(self, lse, want_lse, 2e-5, "lse")

    def test_attention_accepts_non_contiguous_arrays(self):
        base = self.randn(1, 16, 3, 32)  # [B, N, H, D] -> [B, H, N, D] view
        q = base.transpose(0, 2, 1, 3)
        self.assertFalse(q.flags.c_contiguous)
        o = aat.attention(q, q, q)
        assert_close(self, o, reference_attention(q, q, q)[0], 2e-5, "o")

    def test_attention_errors_carry_the_framework_message(self):
        q = self.randn(1, 1, 4, 12)
        with self.assertRaises(aat.Error) as caught:
            aat.attention(q, q, q)
        self.assertEqual(caught.exception.code, "unsupported")
        self.assertIn("head dim D = 12", str(caught.exception))
        self.assertIsInstance(caught.exception, RuntimeError)
        with self.assertRaises(aat.Error) as caught:
            aat.attention(self.randn(1, 1, 4, 16), self.randn(1, 1, 5, 16), self.randn(1, 1, 6, 16))
        self.assertIn(caught.exception.code, {"invalid_argument", "size_mismatch"})
        with self.assertRaises(TypeError) as type_error:
            aat.attention(np.zeros((1, 1, 4, 16)), np.zeros((1, 1, 4, 16)), np.zeros((1, 1, 4, 16)))
        self.assertIn("float64", str(type_error.exception))

    def test_attention_from_several_python_threads(self):
        results, errors = {}, []
        inputs = {t: [self.randn(1, 2, 10 + 3 * t, 32) for _ in range(3)] for t in range(4)}

        def work(t):
            try:
                for i in range(3):
                    q, k, v = inputs[t]
                    results[(t, i)] = aat.attention(q, k, v, causal=bool((t + i) % 2))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(errors, [])
        for (t, i), o in results.items():
            q, k, v = inputs[t]
            assert_close(self, o, reference_attention(q, k, v, causal=bool((t + i) % 2))[0], 2e-5, f"thread {t}")

    # ---- shader-only kernels -----------------------------------------------------------

    def test_run_saxpy_in_place_output(self):
        n = 1000
        x = np.arange(n, dtype=np.float32)
        y = np.ones(n, np.float32)
        out = aat.run(SAXPY, {"X": x, "Y": y}, {"Y": None}, push={"a": 2.0, "n": n}, grid=n)
        np.testing.assert_array_equal(out["Y"], 2 * x + 1)
        np.testing.assert_array_equal(y, np.ones(n, np.float32))  # the input array is untouched

    def test_run_spec_text_push_and_numpy_scalars(self):
        n = 300
        x = self.randn(n)
        y = self.randn(n)
        out = aat.run(SAXPY, {"X": x, "Y": y}, ["Y"], push={"a": "0.5", "n": np.uint32(n)},
                      spec={"local_size_x": 128}, grid=(n,))
        np.testing.assert_allclose(out["Y"], np.float32(0.5) * x + y, rtol=1e-6, atol=1e-6)

    def test_run_allocated_output_and_shared_header(self):
        shader = os.path.join(self.tmpdir(), "relu.comp")
        with open(shader, "w") as f:
            f.write('#version 450\n#include "aat/constants.glsl"\n'
                    "layout(local_size_x = 32) in;\n"
                    "layout(std430, binding = 0) readonly buffer In { float x[]; } src;\n"
                    "layout(std430, binding = 1) writeonly buffer Out { float y[]; } dst;\n"
                    "layout(push_constant) uniform P { uint n; } p;\n"
                    "void main() { uint i = gl_GlobalInvocationID.x;"
                    " if (i < p.n) dst.y[i] = aat_max(src.x[i], 0.0); }\n")
        x = self.randn(4, 25)
        out = aat.run(shader, {"src": x}, {"dst": ((4, 25), np.float32)}, push={"n": x.size}, grid=x.size)
        np.testing.assert_array_equal(out["dst"], np.maximum(x, 0))
        self.assertEqual(out["dst"].shape, (4, 25))

    def test_run_errors(self):
        x = np.zeros(64, np.float32)
        with self.assertRaises(aat.Error) as caught:
            aat.run(SAXPY, {"X": x, "Z": x}, {"Z": None}, push={"a": 1.0, "n": 64}, grid=64)
        self.assertEqual(caught.exception.code, "not_found")
        self.assertIn("'Z'", str(caught.exception))
        self.assertIn("'X', 'Y'", str(caught.exception))
        with self.assertRaises(aat.Error) as caught:
            aat.run(SAXPY, {"X": x, "Y": x}, {"Y": None}, push={"a": 1.0}, grid=64)
        self.assertEqual(caught.exception.code, "not_found")
        self.assertIn("'n'", str(caught.exception))
        with self.assertRaises(aat.Error) as caught:
            aat.run(SAXPY, {"X": np.zeros(64, np.int32), "Y": x}, {"Y": None}, push={"a": 1.0, "n": 64}, grid=64)
        self.assertEqual(caught.exception.code, "type_mismatch")
        broken = os.path.join(self.tmpdir(), "broken.comp")
        with open(broken, "w") as f:
            f.write("#version 450\nvoid main() { oops }\n")
        with self.assertRaises(aat.Error) as caught:
            aat.run(broken, {})
        self.assertEqual(caught.exception.code, "shader_compile")
        self.assertIn("broken.comp", str(caught.exception))
        with self.assertRaises(ValueError):
            aat.run(SAXPY, {"X": x}, {"Y": None}, push={"a": 1.0, "n": 64}, grid=64)

    # ---- plugins -----------------------------------------------------------------------

    def test_plugins_and_run_command(self):
        names = [p["name"] for p in aat.plugins()]
        self.assertIn("attention", names)
        code, out, err = aat.run_command("attention", ["--help"])
        self.assertEqual(code, 0, err)
        self.assertIn("--causal", out + err)
        with self.assertRaises(aat.Error) as caught:
            aat.run_command("no-such-command", [])
        self.assertEqual(caught.exception.code, "not_found")

    def test_geodesic(self):
        if "geodesic" not in [op["name"] for op in aat.ops()]:
            with self.assertRaises(NotImplementedError):
                aat.geodesic(np.zeros((4, 4), np.float32), np.zeros((1, 4), np.float32), steps=1, dt=0.1)
            return
        # phi = 0: the flat metric, geodesics are straight lines at constant speed.
        phi = np.zeros((16, 16), np.float32)
        states = np.array([[0.2, 0.3, 0.1, 0.05], [0.5, 0.5, -0.05, 0.08]], np.float32)
        out = aat.geodesic(phi, states, steps=10, dt=0.5, extent=(0.0, 0.0, 1.0, 1.0))
        self.assertEqual(out.shape, (2, 6))
        np.testing.assert_allclose(out[:, 0], states[:, 0] + 5 * states[:, 2], atol=1e-5)
        np.testing.assert_allclose(out[:, 1], states[:, 1] + 5 * states[:, 3], atol=1e-5)
        np.testing.assert_allclose(out[:, 4], 5 * np.hypot(states[:, 2], states[:, 3]), rtol=1e-4)

    def test_flow(self):
        if "flow" not in [op["name"] for op in aat.ops()]:
            with self.assertRaises(NotImplementedError):
                aat.flow(np.zeros((4, 4), np.float32), spacing=0.1, steps=1, dt=0.001)
            return
        # A constant phi is a fixed point of the flow (zero curvature).
        phi = np.full((8, 8), 0.25, np.float32)
        out, info = aat.flow(phi, spacing=0.1, steps=3, dt=1e-4, report=True)
        np.testing.assert_allclose(out, phi, atol=1e-6)
        self.assertGreaterEqual(info["substeps"], 1)

    def test_adaptive_attention(self):
        q, k, v = self.randn(1, 2, 100, 32), self.randn(1, 2, 300, 32), self.randn(1, 2, 300, 32)
        if "adaptive" not in [op["name"] for op in aat.ops()]:
            with self.assertRaises(NotImplementedError):
                aat.adaptive_attention(q, k, v)
            return
        # mass 1 / epsilon 0 on the plan kernel: every visible block is full, so the result is
        # exact attention (f32 tolerance).
        for causal in (False, True):
            want = reference_attention(q, k, v, causal=causal)[0]
            o = aat.adaptive_attention(q, k, v, causal=causal, mass=1.0, exact_below_cer=0)
            self.assertEqual(o.shape, q.shape)
            assert_close(self, o, want, 2e-5, f"o causal={causal}")
            o = aat.adaptive_attention(q, k, v, causal=causal, epsilon=0.0, exact_below_cer=0)
            assert_close(self, o, want, 2e-5, f"o epsilon 0 causal={causal}")
        # the defaults, with the report measured against exact attention: Gaussian inputs have
        # nothing to skip, so exact attention runs and the report says so
        o, report = aat.adaptive_attention(q, k, v, causal=True, report=True)
        self.assertEqual(o.shape, q.shape)
        for key in ("ifq", "cer", "ae", "levels", "exact", "planned_cer"):
            self.assertIn(key, report)
        self.assertTrue(report["exact"])
        self.assertEqual(report["ifq"], 1.0)
        o, report = aat.adaptive_attention(q, k, v, causal=True, report=True, mode="mass", mass=0.9,
                                           exact_below_cer=0)
        self.assertFalse(report["exact"])
        self.assertGreater(report["ifq"], 0.9)
        self.assertLessEqual(report["ifq"], 1.0 + 1e-9)
        with self.assertRaises(ValueError):
            aat.adaptive_attention(q, k, v, mass=0.9, epsilon=0.1)
        with self.assertRaises(ValueError):
            aat.adaptive_attention(q, k, v, mode="fast")
        # the op itself: aat.run("adaptive", ...) with the scalar plan kernel, and a refused kernel name
        out = aat.run("adaptive", q=q, k=k, v=v, causal=True, mass=1.0, exact_below_cer=0, kernel="scalar")
        assert_close(self, out["out"], reference_attention(q, k, v, causal=True)[0], 2e-5, "op 'adaptive'")
        self.assertEqual(out["lse"].shape, q.shape[:3])
        with self.assertRaisesRegex(aat.Error, "kernel must be auto, cooperative_matrix2 or scalar"):
            aat.run("adaptive", q=q, k=k, v=v, kernel="fast")

    def tmpdir(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="aat-python-test-")
        self.addCleanup(lambda: __import__("shutil").rmtree(d, ignore_errors=True))
        return d


if __name__ == "__main__":
    unittest.main()
