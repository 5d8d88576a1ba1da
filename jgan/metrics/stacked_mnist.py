"""Stacked MNIST mode counting (Metz et al. 2017; VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018).

Each sample is a 28x28x3 image whose channels are three MNIST digits, so the
data has 10^3 = 1000 modes. A pretrained digit classifier (here `lenet-mnist`)
labels each channel; a sample's mode is 100 d0 + 10 d1 + d2. The protocol of
VEEGAN/PacGAN scores 26,000 samples by
  * modes: the number of the 1000 modes hit by at least one sample, and
  * KL: KL(mode histogram || uniform over 1000) in nats.
Real stacked digits give ~1000 modes and KL ~ 0.02 (26 samples per mode on
average: the sampling noise alone is about 999 / (2 * 26000)).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from jgan.core.errors import UserError
from jgan.metrics.classes import class_histogram, kl_divergence

NUM_MODES = 1000
NUM_SAMPLES = 26_000


def modes_from_digits(channel_digits: np.ndarray) -> np.ndarray:
  """int (N, 3) per-channel digit classes -> int (N,) mode ids 100 d0 + 10 d1 + d2 in [0, 1000)."""
  channel_digits = np.asarray(channel_digits)
  return channel_digits[:, 0] * 100 + channel_digits[:, 1] * 10 + channel_digits[:, 2]


def mode_metrics(mode_ids) -> dict:
  """{"modes": number of modes hit, "kl": KL(histogram || uniform 1000)} from (N,) mode ids."""
  hist = class_histogram(np.asarray(mode_ids, np.int64), NUM_MODES)
  return {"modes": int(np.count_nonzero(hist)),
          "kl": kl_divergence(hist, np.full(NUM_MODES, 1.0 / NUM_MODES)),
          "num_samples": int(np.asarray(mode_ids).size)}


def stacked_mnist_metrics(images, classify: Callable[[np.ndarray], np.ndarray]) -> dict:
  """uint8 (N, 28, 28, 3) (or 32x32x3, centre-cropped) samples -> mode metrics; `classify` maps
  uint8 (n, 28, 28, 1) -> int (n,) digits."""
  images = np.asarray(images)
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
    raise UserError(f"Stacked MNIST needs uint8 (N, H, W, 3) images, got {images.dtype} {images.shape}")
  if images.shape[0] == 0:
    raise UserError("Stacked MNIST: the sample set is empty")
  digits = channel_digits(images, classify)
  return {**mode_metrics(modes_from_digits(digits)), **channel_metrics(digits)}


def channel_digits(images: np.ndarray, classify: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
  """uint8 (N, H, W, C) -> int (N, C): `classify`'s digit for each channel, in one pass over all channels
  ((N, H, W, C) -> (C N, H, W, 1), channel-major). Three-channel 32x32 images are the 32 px layout of
  jgan.data.stacked (28 px digits padded by 2) and are centre-cropped to 28 px first."""
  if images.shape[-1] == 3 and images.shape[1:3] == (32, 32):
    images = images[:, 2:30, 2:30]
  n, c = images.shape[0], images.shape[-1]
  channels = np.concatenate([images[..., g:g + 1] for g in range(c)])
  return np.asarray(classify(channels)).reshape(c, n).T


def channel_metrics(channel_digits: np.ndarray) -> dict:
  """Where the KL to uniform comes from, from int (N, 3) per-channel digits.

  KL(p || uniform over 1000) = sum_c KL(p_c || uniform over 10) + KL(p || p_0 p_1 p_2) exactly (the
  uniform is the product of its marginals), so the mode KL splits into
    * channel_kl: the three channels' own digit shares away from 10% each, and
    * dependence_kl: the channels' digits depending on each other (the rest);
  plus the lowest and highest digit share over all channels (share_min, share_max).
  """
  channel_digits = np.asarray(channel_digits, np.int64)
  uniform10 = np.full(10, 0.1)
  shares = [class_histogram(channel_digits[:, c], 10) for c in range(3)]
  channel_kl = float(sum(kl_divergence(share, uniform10) for share in shares))
  total = mode_metrics(modes_from_digits(channel_digits))["kl"]
  return {"channel_kl": channel_kl, "dependence_kl": max(total - channel_kl, 0.0),
          "share_min": float(min(share.min() for share in shares)),
          "share_max": float(max(share.max() for share in shares))}
