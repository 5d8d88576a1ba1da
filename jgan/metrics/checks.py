"""Input checks shared by the feature-space metrics: one-line UserErrors, float64 copies."""
from __future__ import annotations

import numpy as np

from jgan.core.errors import UserError


def features(x, name: str, min_samples: int = 1, metric: str = "this metric") -> np.ndarray:
  """(N, D) array-like -> float64 (N, D); refuses other ranks, NaN/inf and fewer than `min_samples` rows."""
  x = np.asarray(x)
  if x.ndim != 2:
    raise UserError(f"{name}: expected features of shape (N, D), got shape {x.shape}")
  if x.shape[0] == 0:
    raise UserError(f"{name} is empty: {metric} needs at least {min_samples} samples")
  if x.shape[0] < min_samples:
    raise UserError(f"{name} has {x.shape[0]} samples; {metric} needs at least {min_samples}")
  x = x.astype(np.float64)
  if not np.all(np.isfinite(x)):
    raise UserError(f"{name} contains NaN or inf")
  return x


def same_dim(a: np.ndarray, b: np.ndarray) -> None:
  if a.shape[1] != b.shape[1]:
    raise UserError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]} (same extractor for both sets?)")
