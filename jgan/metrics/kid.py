"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

The unbiased estimator of the squared MMD with the cubic polynomial kernel
k(x, y) = (x·y / d + 1)^3, averaged over `num_subsets` random subsets of
`subset_size` samples from each set (the authors' protocol: 100 subsets of
1000). Unlike FID it is unbiased in the number of samples, so small sample
sets compare fairly; it can be slightly negative when the sets match.
"""
from __future__ import annotations

import numpy as np

from jgan.metrics import checks


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
  """(n, d), (m, d) -> (n, m) float64 matrix (x·y / d + coef0)^degree."""
  return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
  """Unbiased squared MMD between equal-size samples x, y (m, d), polynomial kernel."""
  m = x.shape[0]
  kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
  # The diagonals k(x_i, x_i) are left out of the within-set terms: that is what makes it unbiased.
  within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
  return float(within - 2.0 * kxy.mean())


def kid(features1, features2, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> dict:
  """KID between (N1, D) and (N2, D) features -> {"kid": mean, "kid_std": std over subsets}.

  Subsets are drawn without replacement (seeded), of min(subset_size, N1, N2)
  samples each; each set needs at least 2 samples.
  """
  a = checks.features(features1, "first feature set", 2, "KID")
  b = checks.features(features2, "second feature set", 2, "KID")
  checks.same_dim(a, b)
  m = min(subset_size, a.shape[0], b.shape[0])
  rng = np.random.default_rng(seed)
  values = []
  for _ in range(num_subsets):
    ia = rng.choice(a.shape[0], m, replace=False)
    ib = rng.choice(b.shape[0], m, replace=False)
    values.append(mmd2_unbiased(a[ia], b[ib]))
  values = np.asarray(values)
  return {"kid": float(values.mean()), "kid_std": float(values.std())}
