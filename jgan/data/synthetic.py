"""Built-in image domains for unpaired translation, built offline and deterministically.

The default CycleGAN task translates between two domains made from the
embedded MNIST digits (`jgan.data.embedded`), split into DISJOINT halves so no
digit appears in both domains:

  mnist10k_a   domain A: the plain grey digits of the first half (indices 0..4999)
  mnistm10k_b  domain B: MNIST-M-style colour digits (Ganin et al. 2016) made from the
               second half (indices 5000..9999): |texture - digit| per channel, over a
               procedural colour texture (smooth noise, stripes or a gradient)

Each half has a "train" split (its first 4000 digits) and a "test" split (its
last 1000), so a measurement can test on real held-out images of either domain.
Every image is a pure function of its index: `mnistm_images(digits, seeds)`
seeds texture i with `TEXTURE_SEED + index`, so any subset is reproducible.
"""
from __future__ import annotations

import hashlib

import numpy as np

from jgan.data import embedded

HALF = 5000            # digits per domain
TEST = 1000            # the last TEST digits of a half are its "test" split
TEXTURE_SEED = 20170330
DOMAINS = ("mnist10k_a", "mnistm10k_b")
SPLITS = ("train", "test", "all")
KINDS = ("noise", "stripes", "gradient")


def domain_indices(domain: str, split: str) -> np.ndarray:
  """Indices into the embedded digits of `domain`'s `split` (train | test | all)."""
  if domain not in DOMAINS:
    raise ValueError(f"unknown built-in domain {domain!r}: use one of {', '.join(DOMAINS)}")
  if split not in SPLITS:
    raise ValueError(f"built-in domain {domain!r} has no split {split!r}: use one of {', '.join(SPLITS)}")
  start = 0 if domain == DOMAINS[0] else HALF
  stop = start + HALF
  if split == "train":
    stop -= TEST
  elif split == "test":
    start = stop - TEST
  return np.arange(start, stop)


def _smooth_noise(rng: np.random.Generator, size: int, coarse: int = 4) -> np.ndarray:
  """(size, size, 3) float in [0, 1]: a coarse random colour grid, bilinearly upsampled."""
  grid = rng.uniform(0.0, 1.0, (coarse + 1, coarse + 1, 3))
  t = np.linspace(0.0, coarse, size)
  i0 = np.minimum(t.astype(int), coarse - 1)
  f = (t - i0)[:, None]
  rows = grid[i0] * (1 - f[..., None]) + grid[i0 + 1] * f[..., None]            # (size, coarse+1, 3)
  cols = rows[:, i0] * (1 - f.T[..., None]) + rows[:, i0 + 1] * f.T[..., None]   # (size, size, 3)
  return cols


def texture(seed: int, size: int = 28) -> np.ndarray:
  """uint8 (size, size, 3): one procedural colour texture, a function of `seed` alone."""
  rng = np.random.default_rng(seed)
  kind = KINDS[rng.integers(len(KINDS))]
  yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
  c1, c2 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
  angle = rng.uniform(0, np.pi)
  along = xx * np.cos(angle) + yy * np.sin(angle)
  if kind == "noise":
    image = _smooth_noise(rng, size)
  elif kind == "stripes":
    t = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1.5, 5.0) * along + rng.uniform(0, 2 * np.pi))
    image = c1 * (1 - t[..., None]) + c2 * t[..., None]
  else:
    t = (along - along.min()) / max(np.ptp(along), 1e-6)
    image = c1 * (1 - t[..., None]) + c2 * t[..., None]
  return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


def blend(digit: np.ndarray, background: np.ndarray) -> np.ndarray:
  """MNIST-M's blend: |background - digit| per channel. digit uint8 (H, W), background uint8 (H, W, 3)."""
  return np.abs(background.astype(np.int16) - digit[..., None].astype(np.int16)).astype(np.uint8)


def mnistm_images(digits: np.ndarray, indices: np.ndarray) -> np.ndarray:
  """uint8 (n, H, W, 3): the digits (n, H, W) blended over the textures of their dataset `indices`."""
  return np.stack([blend(d, texture(TEXTURE_SEED + int(i), d.shape[0])) for d, i in zip(digits, indices)])


def load_domain(domain: str, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
  """(images uint8 (n, 28, 28, C), labels int32 (n,)): C = 1 for domain A, 3 for domain B."""
  indices = domain_indices(domain, split)
  images, labels = embedded.load_embedded_arrays()
  digits, labels = images[indices], labels[indices].astype(np.int32)
  if domain == DOMAINS[0]:
    return digits[..., None], labels
  return mnistm_images(digits, indices), labels


def fingerprint(domain: str, split: str) -> str:
  text = f"{domain}:{split}:{TEXTURE_SEED}:{embedded.embedded_sha256()[:16]}"
  return hashlib.sha256(text.encode()).hexdigest()[:16]
