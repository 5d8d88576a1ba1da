"""DiffAugment (Zhao et al. 2020, arXiv:2006.10738): differentiable augmentations for data-efficient GANs.

D sees T(x) for real and T(G(z)) for fake, with the same policy T on both and on
G's update pass, so G's gradient flows through T and G is not pushed to
produce augmented-looking images. Each call draws fresh random parameters per
example (as the paper's reference code does). Images are (B, H, W, C) in
[-1, 1]; every operation is a differentiable function of the pixels.

Policies: "color" (brightness, saturation, contrast), "translation" (shift by up
to 1/8 of the size, zero fill), "cutout" (a zeroed square of half the size).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jgan.core import rng
from jgan.core.errors import UserError


def brightness(x, key):
  """x + b, b ~ U[-0.5, 0.5) per example."""
  return x + (jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype) - 0.5)


def saturation(x, key):
  """Scale each pixel's deviation from its channel mean by s ~ U[0, 2) per example."""
  mean = jnp.mean(x, axis=3, keepdims=True)
  return (x - mean) * (jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype) * 2.0) + mean


def contrast(x, key):
  """Scale the deviation from the image mean by c ~ U[0.5, 1.5) per example."""
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
  return (x - mean) * (jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype) + 0.5) + mean


def translate(x, shifts):
  """Shift example i by shifts[i] = (dy, dx) pixels (content moves down/right), zero fill.

  x (B, H, W, C), shifts int (B, 2) with |shift| <= the pad used here (max of H, W).
  """
  _, height, width, channels = x.shape
  pad = max(height, width)
  padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))

  def one(image, shift):
    return jax.lax.dynamic_slice(image, (pad - shift[0], pad - shift[1], 0), (height, width, channels))
  return jax.vmap(one)(padded, shifts)


def translation(x, key, ratio: float = 0.125):
  """Random shifts in [-r, r] pixels per axis, r = round(ratio * size)."""
  limit = jnp.array([int(x.shape[1] * ratio + 0.5), int(x.shape[2] * ratio + 0.5)])
  shifts = jax.random.randint(key, (x.shape[0], 2), -limit, limit + 1)
  return translate(x, shifts)


def cutout_mask(shape, centers, size):
  """(B, H, W, 1) float mask: 0 inside the size[0] x size[1] square at each center (clipped at edges), else 1."""
  rows = jnp.arange(shape[1])[None, :, None]
  cols = jnp.arange(shape[2])[None, None, :]
  top = centers[:, 0, None, None] - size[0] // 2
  left = centers[:, 1, None, None] - size[1] // 2
  inside = (rows >= top) & (rows < top + size[0]) & (cols >= left) & (cols < left + size[1])
  return jnp.where(inside, 0.0, 1.0)[..., None].astype(jnp.float32)


def cutout(x, key, ratio: float = 0.5):
  size = (int(x.shape[1] * ratio + 0.5), int(x.shape[2] * ratio + 0.5))
  centers = jax.random.randint(key, (x.shape[0], 2), 0, jnp.array([x.shape[1], x.shape[2]]))
  return x * cutout_mask(x.shape, centers, size).astype(x.dtype)


POLICIES = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


def parse_policy(policy: str) -> tuple[str, ...]:
  """'color,translation' -> ('color', 'translation'); UserError on an unknown name."""
  names = tuple(p.strip() for p in policy.split(",") if p.strip())
  for name in names:
    if name not in POLICIES:
      raise UserError(f"config.train.augment: unknown DiffAugment policy {name!r}: "
                      f"use a comma-separated subset of {', '.join(POLICIES)}")
  return names


def diff_augment(x: jax.Array, key: jax.Array, policy: tuple[str, ...] = ("color", "translation", "cutout")):
  """Applies the policy's operations in order, each with its own named key."""
  for name in policy:
    for op in POLICIES[name]:
      x = op(x, rng.named(key, op.__name__))
  return x
