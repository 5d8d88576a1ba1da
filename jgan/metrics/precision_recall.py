"""Manifold precision/recall and density/coverage of generated samples.

* Precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and
  Recall Metric for Assessing Generative Models"): each real feature gets a
  ball reaching its k-th nearest real neighbour (k = 3); precision is the
  fraction of fake samples inside at least one real ball, recall the fraction
  of real samples inside at least one fake ball (roles swapped).
* Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity
  Metrics for Generative Models"), real balls only (k = 5 by default):
  density = (1 / kM) sum_j #{real balls containing fake j} (can exceed 1),
  coverage = fraction of real balls containing at least one fake.

Distances are Euclidean in float64, computed in row blocks so memory stays
O(block x N); results do not depend on the block size.
"""
from __future__ import annotations

import numpy as np

from jgan.metrics import checks

_BLOCK = 1024


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
  return np.maximum(d, 0.0)


def knn_radii(x: np.ndarray, k: int, block: int = _BLOCK) -> np.ndarray:
  """Squared distance from each row of x to its k-th nearest other row, (N,) float64."""
  radii = np.empty(x.shape[0])
  for start in range(0, x.shape[0], block):
    d = _sq_dists(x[start:start + block], x)
    # Index k, not k-1: every row is its own nearest neighbour at distance 0.
    radii[start:start + block] = np.partition(d, k, axis=1)[:, k]
  return radii


def _ball_counts(centres: np.ndarray, radii: np.ndarray, queries: np.ndarray, block: int = _BLOCK):
  """For each query, how many balls (centre, squared radius) contain it; for each ball, whether any query does."""
  per_query = np.zeros(queries.shape[0], np.int64)
  per_ball = np.zeros(centres.shape[0], bool)
  for start in range(0, queries.shape[0], block):
    inside = _sq_dists(queries[start:start + block], centres) <= radii[None, :]
    per_query[start:start + block] = inside.sum(1)
    per_ball |= inside.any(0)
  return per_query, per_ball


def _prepare(real, fake, k):
  r = checks.features(real, "real feature set", k + 1, f"a k={k} nearest-neighbour metric")
  f = checks.features(fake, "fake feature set", k + 1, f"a k={k} nearest-neighbour metric")
  checks.same_dim(r, f)
  return r, f


def precision_recall(real, fake, k: int = 3) -> dict:
  """{"precision", "recall"} in [0, 1] between real (N, D) and fake (M, D) features (each > k samples)."""
  r, f = _prepare(real, fake, k)
  fake_in_real, _ = _ball_counts(r, knn_radii(r, k), f)
  real_in_fake, _ = _ball_counts(f, knn_radii(f, k), r)
  return {"precision": float(np.mean(fake_in_real > 0)), "recall": float(np.mean(real_in_fake > 0))}


def density_coverage(real, fake, k: int = 5) -> dict:
  """{"density" in [0, N/k], "coverage" in [0, 1]} (Naeem et al. 2020)."""
  r, f = _prepare(real, fake, k)
  counts, covered = _ball_counts(r, knn_radii(r, k), f)
  return {"density": float(counts.sum() / (k * f.shape[0])), "coverage": float(covered.mean())}
