"""Simple baselines and scores for image repair, used by experiments/bench_repair.py.

All take and return uint8 (N, H, W, C) images and float {0, 1} (N, H, W, 1) masks
(1 = hole).
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jgan import features
from jgan.core.errors import UserError
from jgan.metrics import image as image_metrics


def mean_fill(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
  """Each hole pixel := its channel's mean over the image's known pixels. uint8 in and out."""
  hole = masks.astype(bool)
  known = (~hole).astype(np.float64)
  means = (images * known).sum(axis=(1, 2)) / np.maximum(known.sum(axis=(1, 2)), 1)
  filled = np.broadcast_to(np.round(means)[:, None, None, :], images.shape).astype(np.uint8)
  return np.where(hole, filled, images)


def telea_fill(images: np.ndarray, masks: np.ndarray):
  """OpenCV's Telea (2004) fast-marching inpainting, radius 3; None when cv2 is not installed."""
  try:
    import cv2
  except ImportError:
    return None
  out = np.empty_like(images)
  for i, (image, mask) in enumerate(zip(images, masks)):
    filled = cv2.inpaint(np.ascontiguousarray(image), (mask[..., 0] * 255).astype(np.uint8), 3, cv2.INPAINT_TELEA)
    out[i] = filled.reshape(image.shape)
  return out


# ---------------------------------------------------------------- scores

def hole_scores(pred: np.ndarray, truth: np.ndarray, masks: np.ndarray) -> dict[str, float]:
  """PSNR (dB, per image then averaged) and L1 (in [0, 1] units) over hole pixels; SSIM of the whole image."""
  hole = np.broadcast_to(masks.astype(bool), pred.shape)
  diff = pred.astype(np.float64) - truth.astype(np.float64)
  count = hole.sum(axis=(1, 2, 3))
  mse = (np.square(diff) * hole).sum(axis=(1, 2, 3)) / count
  psnr = 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))
  l1 = (np.abs(diff) * hole).sum(axis=(1, 2, 3)) / count / 255.0
  ssim = np.asarray(image_metrics.ssim(jnp.asarray(pred), jnp.asarray(truth)))
  return {"psnr": float(psnr.mean()), "ssim": float(ssim.mean()), "l1": float(l1.mean())}


def fid_low_rank(features1: np.ndarray, features2: np.ndarray) -> float:
  """FID of two feature sets with fewer samples than dimensions, exactly, in O(n m D).

  With A, B the centred features (n x D, m x D), S1 = A'A/(n-1), S2 = B'B/(m-1),
  the nonzero eigenvalues of S1 S2 are those of (A B')(A B')' / ((n-1)(m-1)), so
  tr((S1 S2)^(1/2)) is the sum of the singular values of A B' / sqrt((n-1)(m-1)).
  Same value as `jgan.metrics.fid.fid` (tests/test_repair_baselines.py checks), which
  takes two 2048x2048 eigendecompositions per call: ~10 s each on this CPU, for
  each of the 12 sets here.
  """
  x1, x2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
  a, b = x1 - x1.mean(0), x2 - x2.mean(0)
  n, m = len(x1), len(x2)
  cross = np.linalg.svd(a @ b.T, compute_uv=False).sum() / np.sqrt((n - 1) * (m - 1))
  trace1, trace2 = np.sum(a * a) / (n - 1), np.sum(b * b) / (m - 1)
  return float(max(np.sum(np.square(x1.mean(0) - x2.mean(0))) + trace1 + trace2 - 2 * cross, 0.0))


def image_scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
  """Mean PSNR (dB) and SSIM of uint8 (N, H, W, C) predictions against the truth."""
  return {"psnr": float(np.mean(np.asarray(image_metrics.psnr(jnp.asarray(pred), jnp.asarray(truth))))),
          "ssim": float(np.mean(np.asarray(image_metrics.ssim(jnp.asarray(pred), jnp.asarray(truth)))))}


class ReferenceFID:
  """FID (Inception features, `fid_low_rank`) of up to `num` images against fixed real ones, or the
  reason it is unavailable (no weights, no extractor): calling it then returns None."""

  def __init__(self, real: np.ndarray, num: int):
    self.num = num
    self.reason = None
    if num < 2:
      self.reason = "off (fewer than 2 images)"
      return
    try:
      self.extractor = features.get("inception")
    except UserError as e:
      self.reason = f"unavailable: {e}"
      return
    except ImportError as e:
      self.reason = f"unavailable: {e}"
      return
    self.real = self.extractor(real[:num])["features"]

  def __call__(self, images: np.ndarray):
    if self.reason:
      return None
    return fid_low_rank(self.extractor(images[:self.num])["features"], self.real)
