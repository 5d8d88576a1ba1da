"""Synthetic 2D mixtures of Gaussians used to measure mode coverage (PacGAN,
Lin et al. 2018, arXiv:1712.04086, sec. 5.1; first used by VEEGAN/Unrolled GAN).

ring8:  8 modes evenly spaced on a circle of radius 1, sigma = 0.01.
grid25: 25 modes on the grid {-4, -2, 0, 2, 4}^2, sigma = 0.05.
"""
from __future__ import annotations

import numpy as np

TOY_DATASETS = ("ring8", "grid25")


def toy_modes(name: str) -> tuple[np.ndarray, float]:
  """(modes float64 (M, 2), sigma) of a toy dataset."""
  if name == "ring8":
    angles = 2 * np.pi * np.arange(8) / 8
    return np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01
  if name == "grid25":
    axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    return np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2), 0.05
  raise ValueError(f"unknown toy dataset {name!r}")


def sample_toy(name: str, num: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """(points float32 (num, 2), mode index int32 (num,)): equal-weight mixture samples."""
  modes, sigma = toy_modes(name)
  rng = np.random.default_rng(seed)
  which = rng.integers(0, len(modes), size=num)
  points = modes[which] + sigma * rng.standard_normal((num, 2))
  return points.astype(np.float32), which.astype(np.int32)
