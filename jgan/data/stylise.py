"""A style whose ground truth is known: CIFAR-10 photos and the same kind of photos stylised.

`stylise(images)` is a fixed, deterministic rendering that a small CNN can represent but a per-pixel
colour map cannot: the ink depends on each pixel's neighbourhood. For an image in [0, 1]:

  1. posterise: each channel through a smooth 4-level staircase (`posterise`), flat near the levels
     and continuous between them, so a network can fit it with finite slopes;
  2. colour grade: a fixed 3x3 colour matrix plus offset (warm highlights, teal shadows), then a
     gamma of GRADE_GAMMA;
  3. edge inking: the Sobel gradient magnitude of the blurred luminance, through a soft threshold
     (INK_LOW..INK_HIGH), blends the pixel towards INK_COLOUR: two pixels of one colour come out
     differently when one lies on an edge and the other in a flat region.

Built-in domains for unpaired translation (`jgan.data.unpaired`), read from the CIFAR-10 JPEG zip or
folder named by `config.data.style_root` (train/<class>/*.jpg and test/<class>/*.jpg):

  cifar_photo_a    domain A: photos of one half of the training images
  cifar_styled_b   domain B: the other half, stylised
The halves split a fixed permutation of the training images (PERMUTATION_SEED): even positions
are A, odd are B, so no photo is in both domains and each half holds every class. Split "test" is
the 10,000 test images (photos in A, stylised in B): held-out x and stylise(x) for measuring.
`config.data.domain_limit` > 0 keeps the first that many images of each domain (short runs).
"""
from __future__ import annotations

import numpy as np

from jgan.core.errors import UserError

DOMAINS = ("cifar_photo_a", "cifar_styled_b")
SPLITS = ("train", "test")
PERMUTATION_SEED = 20171016
LEVELS = 4
LUMA = np.array([0.299, 0.587, 0.114], np.float32)          # ITU-R BT.601 luminance weights
# Split toning: red lifted in the highlights, blue in the shadows (rows: output R, G, B).
GRADE_MATRIX = np.array([[1.10, 0.05, -0.05], [0.00, 0.95, 0.05], [-0.10, 0.05, 0.90]], np.float32)
GRADE_OFFSET = np.array([0.02, 0.03, 0.10], np.float32)
GRADE_GAMMA = 0.8
INK_LOW, INK_HIGH = 0.6, 1.0                              # Sobel magnitude (of [0, 1] luminance) to ink
INK_COLOUR = np.array([0.08, 0.06, 0.18], np.float32)      # dark blue ink
INK_STRENGTH = 0.85


def posterise(x: np.ndarray, levels: int = LEVELS) -> np.ndarray:
  """Smooth staircase on [0, 1] -> [0, 1] with `levels` flat steps: t - sin(2 pi t) / (2 pi) twice, t = x (levels - 1).

  Monotone, fixes 0 and 1, slope 0 at every level."""
  t = x * (levels - 1)
  for _ in range(2):
    t = t - np.sin(2 * np.pi * t) / (2 * np.pi)
  return t / (levels - 1)


def _reflect(x: np.ndarray) -> np.ndarray:
  return np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="reflect")


def _conv3(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
  """(N, H, W) correlated with a 3x3 kernel, reflection padding."""
  padded, (_, h, w) = _reflect(x), x.shape
  return sum(kernel[i, j] * padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3))


BLUR = np.outer([1, 2, 1], [1, 2, 1]).astype(np.float32) / 16
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)


def ink(images01: np.ndarray) -> np.ndarray:
  """(N, H, W) in [0, 1]: how much ink each pixel of (N, H, W, 3) images in [0, 1] gets."""
  luminance = _conv3(images01 @ LUMA, BLUR)
  magnitude = np.hypot(_conv3(luminance, SOBEL_X), _conv3(luminance, SOBEL_X.T))
  return np.clip((magnitude - INK_LOW) / (INK_HIGH - INK_LOW), 0.0, 1.0)


def stylise(images: np.ndarray) -> np.ndarray:
  """uint8 (N, H, W, 3) or (H, W, 3) -> the same shape, stylised (see the module docstring). Pure numpy."""
  images = np.asarray(images)
  if images.dtype != np.uint8 or images.ndim not in (3, 4) or images.shape[-1] != 3:
    raise UserError(f"stylise needs uint8 RGB images (N, H, W, 3), got {images.dtype} {images.shape}")
  single = images.ndim == 3
  x = images[None] if single else images
  x = x.astype(np.float32) / 255.0
  graded = np.clip(posterise(x) @ GRADE_MATRIX.T + GRADE_OFFSET, 0.0, 1.0) ** GRADE_GAMMA
  amount = INK_STRENGTH * ink(x)[..., None]
  out = graded * (1.0 - amount) + INK_COLOUR * amount
  out = np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
  return out[0] if single else out


# ---------------------------------------------------------------- the built-in domains

def domain_indices(domain: str, split: str, total: int, limit: int = 0) -> np.ndarray:
  """Indices into the `total` images of the zip's `split` that make `domain` (see the module docstring)."""
  if split == "test":
    indices = np.arange(total)
  else:
    order = np.random.default_rng(PERMUTATION_SEED).permutation(total)
    indices = order[DOMAINS.index(domain)::2]
  return indices[:limit] if limit > 0 else indices
