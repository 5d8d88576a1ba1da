"""Linear probes: how much of the label a representation exposes to a linear classifier.

The probe is closed-form ridge regression onto one-hot targets (numpy): W =
argmin ||[X 1] W - Y||^2 + l2 ||W||^2 on standardised features, prediction
argmax. Used by BiGAN (E(x) vs raw pixels vs a random-init E) and, until the
evaluation issue's classifier lands, as a proxy classifier that checks a
conditional G's samples against their labels.
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class RidgeProbe:
  mean: np.ndarray    # (D,) feature means of the training set
  scale: np.ndarray   # (D,) feature standard deviations (1 where constant)
  weights: np.ndarray  # (D + 1, K), last row the bias

  def predict(self, features: np.ndarray) -> np.ndarray:
    """(N, ...) features -> int (N,) predicted classes."""
    x = (np.asarray(features, np.float64).reshape(len(features), -1) - self.mean) / self.scale
    return np.argmax(np.concatenate([x, np.ones((len(x), 1))], axis=1) @ self.weights, axis=1)

  def accuracy(self, features: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(self.predict(features) == np.asarray(labels)))


def fit_ridge(features: np.ndarray, labels: np.ndarray, num_classes: int, l2: float = 1.0) -> RidgeProbe:
  """Fits the probe on (N, ...) features and int (N,) labels in [0, num_classes)."""
  x = np.asarray(features, np.float64).reshape(len(features), -1)
  mean = x.mean(axis=0)
  scale = x.std(axis=0)
  scale = np.where(scale > 1e-8, scale, 1.0)
  x = np.concatenate([(x - mean) / scale, np.ones((len(x), 1))], axis=1)
  y = np.eye(num_classes)[np.asarray(labels)]
  reg = l2 * np.eye(x.shape[1])
  reg[-1, -1] = 0.0  # the bias is not shrunk
  weights = np.linalg.solve(x.T @ x + reg, x.T @ y)
  return RidgeProbe(mean, scale, weights)
