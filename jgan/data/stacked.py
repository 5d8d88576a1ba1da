"""Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): three digits stacked as the channels of one image.

Example i stacks three digits of the embedded MNIST drawn independently and
uniformly, so the data has 10^3 = 1000 modes (the digit triples), the standard
mode-collapse benchmark. The triples are a function of the seed alone
(`numpy.random.default_rng([seed, STREAM])`), so a run and its resume see the
same dataset; an example's label is its mode, 100 d0 + 10 d1 + d2 (the
convention of `jgan.metrics.stacked_mnist`). At 32 px the 28 px digits are
padded by 2 black pixels a side (VEEGAN and PacGAN use 28 px).
"""
from __future__ import annotations

import hashlib

import numpy as np

from jgan.core.errors import UserError
from jgan.data import splits
from jgan.data.embedded import load_embedded_arrays
from jgan.metrics.stacked_mnist import modes_from_digits

NAME = "stacked_mnist"
RESOLUTIONS = (28, 32)
_STREAM = 1000   # keeps these draws apart from any other use of the seed


def stacked_triples(num: int, num_digits: int, seed: int) -> np.ndarray:
  """int (num, 3): the embedded-digit indices stacked as channels 0, 1, 2 of each example."""
  return np.random.default_rng([seed, _STREAM]).integers(0, num_digits, (num, 3))


def stack(digits: np.ndarray, triples: np.ndarray, resolution: int = 28) -> np.ndarray:
  """uint8 (N, 28, 28) digits, int (n, 3) triples -> uint8 (n, resolution, resolution, 3)."""
  images = np.stack([digits[triples[:, c]] for c in range(3)], axis=-1)
  pad = (resolution - digits.shape[1]) // 2
  if pad:
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  return images


def stacked_dataset(data_config, seed: int) -> dict:
  """The fields of the Stacked-MNIST `jgan.data.sources.Source` of `data_config` (resolution 28 or 32,
  3 channels, `num_points` examples): name, length, element_shape, num_classes, read, fingerprint."""
  if data_config.resolution not in RESOLUTIONS:
    raise UserError(f"config.data.resolution={data_config.resolution}: stacked_mnist comes at 28 or 32 px")
  if data_config.channels != 3:
    raise UserError(f"config.data.channels={data_config.channels}: stacked_mnist has 3 channels (one digit each)")
  num = data_config.num_points
  if not isinstance(num, int) or num < 1:
    raise UserError(f"config.data.num_points={num!r}: the number of stacked examples must be a positive integer")
  digits, labels = load_embedded_arrays()
  triples = stacked_triples(num, len(digits), seed)
  modes = modes_from_digits(labels[triples].astype(np.int32))
  resolution = data_config.resolution

  def read(indices):
    indices = np.asarray(indices)
    return {"x": stack(digits, triples[indices], resolution), "label": modes[indices].astype(np.int32)}

  fingerprint = hashlib.sha256(f"{NAME}:{num}:{seed}:{resolution}".encode() + digits.tobytes()[:4096]).hexdigest()
  return dict(name=NAME, length=num, element_shape=(resolution, resolution, 3), num_classes=1000, read=read,
              fingerprint=fingerprint)


def heldout_stacks(num: int, seed: int = 0) -> np.ndarray:
  """uint8 (num, 28, 28, 3): real Stacked-MNIST examples built from the 1,000 held-out digits, which the
  scoring classifier (lenet-mnist) never saw. Scored like samples, they are the benchmark's real-data
  anchor: the modes and KL that matching the data would earn (MNIST's digits are not exactly uniform)."""
  digits, _ = load_embedded_arrays()
  heldout = digits[splits.heldout_indices(len(digits))]
  return stack(heldout, stacked_triples(num, len(heldout), seed))
