"""Whether a run's O and L equal another run's (the same problem on one device):
    same_outputs.py OUT.npy LSE.npy WANT_OUT.npy WANT_LSE.npy TOL
O: same dtype and shape, |o - want| <= TOL + TOL |want| elementwise; L: f32, the same rows
fully masked (-inf), the others within 1e-5 + 1e-5 |want|. Prints the largest differences;
exits 1 naming the first problem."""
import sys

import numpy as np

out, lse, want_out, want_lse, tol = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
o, l, wo, wl = (np.load(f) for f in (out, lse, want_out, want_lse))
assert o.dtype == wo.dtype and o.shape == wo.shape, f"O {o.dtype}{o.shape}, want {wo.dtype}{wo.shape}"
assert l.dtype == np.float32 and l.shape == wl.shape, f"L {l.dtype}{l.shape}, want {wl.shape}"
o64, wo64 = o.astype(np.float64), wo.astype(np.float64)
err = np.abs(o64 - wo64)
assert np.all(err <= tol + tol * np.abs(wo64)), f"O max |diff| {err.max():.3g}"
finite = np.isfinite(wl)
assert np.array_equal(np.isfinite(l), finite) and np.all(l[~finite] == wl[~finite]), "L: masked rows differ"
l_err = np.abs(l[finite].astype(np.float64) - wl[finite])
assert np.all(l_err <= 1e-5 + 1e-5 * np.abs(wl[finite])), f"L max |diff| {l_err.max():.3g}"
print(f"O max |diff| {err.max():.3g}, L max |diff| {l_err.max() if l_err.size else 0:.3g}")
