"""Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale
Update Rule Converge to a Local Nash Equilibrium").

FID = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), between Gaussians
fitted to two feature sets (mean and unbiased covariance, as the TTUR code's
np.cov). Everything runs in float64 on the host: with 2048-d features the
trace term is a difference of numbers ~1e3 and float32 loses the score.

tr((S1 S2)^(1/2)) is computed without a general matrix square root: with
A = S1^(1/2) (symmetric, from an eigendecomposition), S1 S2 is similar to
A S2 A, which is symmetric positive semi-definite, so the trace is the sum of
the square roots of its eigenvalues. That is exact, needs two `eigh`s (fast,
stable), and never returns the complex garbage scipy's sqrtm gives for
near-singular products; it agrees with sqrtm within 1e-6 relative where sqrtm
is well conditioned (tests/test_metrics_fid.py).
"""
from __future__ import annotations

import numpy as np

from jgan.core.errors import UserError
from jgan.metrics import checks


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
  """(N, D) features -> (mean float64 (D,), unbiased covariance float64 (D, D)); N >= 2."""
  x = checks.features(features, "features", min_samples=2, metric="FID (a covariance)")
  mu = x.mean(axis=0)
  centred = x - mu
  sigma = centred.T @ centred / (x.shape[0] - 1)
  return mu, sigma


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
  values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
  return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
  """tr((sigma1 sigma2)^(1/2)) for symmetric PSD matrices, via eigenvalues of A sigma2 A, A = sigma1^(1/2)."""
  root = _sqrt_psd(sigma1)
  inner = root @ sigma2 @ root
  values = np.linalg.eigvalsh((inner + inner.T) / 2)
  return float(np.sum(np.sqrt(np.clip(values, 0.0, None))))


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
  """The Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in squared feature units (>= 0)."""
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
  if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
    raise UserError(f"statistics do not match: means {mu1.shape} vs {mu2.shape}, "
                    f"covariances {sigma1.shape} vs {sigma2.shape}")
  diff = mu1 - mu2
  value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
  # Rounding can leave -1e-12 for identical sets; FID is a distance.
  return max(float(value), 0.0)


def fid(features1, features2) -> float:
  """FID between two (N, D) feature sets (each N >= 2; use >= 10k Inception samples for a citable score)."""
  a = checks.features(features1, "first feature set", 2, "FID")
  b = checks.features(features2, "second feature set", 2, "FID")
  checks.same_dim(a, b)
  return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
