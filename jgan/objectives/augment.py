"""DiffAugment (Zhao et al. 2020, arXiv:2006.10738): differentiable augmentations for data-efficient GANs.

D sees T(x) for real and T(G(z)) for fake, with the same policy T on both and on
G's update pass, so G's gradient flows through T and G is not pushed to
produce augmented-looking images. Each call draws fresh random parameters per
example (as the paper's reference code does). Images are (B, H, W, C) in
[-1, 1]; every operation is a differentiable function of the pixels.

Policies: "color" (brightness, saturation, contrast), "translation" (shift by up
to 1/8 of the size, zero fill), "cutout" (a zeroed square of half the size); for
light-on-dark digits also "stroke" (random stroke width) and "affine" (random
slant, scale and shift per channel).
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


def _max3(x):
  """3x3 max over each pixel's neighbourhood, per channel (a Python -inf init keeps it differentiable)."""
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 1, 1, 1), "SAME")


def stroke(x, key):
  """Random stroke width for light-on-dark images: per example and channel, t ~ U[-1, 1) blends the image
  towards its 3x3 dilation (t > 0, strokes up to a pixel wider on each side) or erosion (t < 0)."""
  t = jax.random.uniform(key, (x.shape[0], 1, 1, x.shape[3]), x.dtype, -1.0, 1.0)
  target = jnp.where(t > 0, _max3(x), -_max3(-x))
  return x + jnp.abs(t) * (target - x)


def affine(x, key, shear: float = 0.3, scale: float = 0.1, shift: float = 0.1):
  """A random affine warp per example and channel about the image centre, bilinear, background -1 outside:
  horizontal shear ~ U[-shear, shear) (slant), scale 1 +- U[-scale, scale) per axis, shift up to shift * size
  per axis. The warp is a differentiable function of the pixels (not of its parameters)."""
  batch, height, width, channels = x.shape
  shears = jax.random.uniform(rng.named(key, "shear"), (batch, channels), x.dtype, -shear, shear)
  scales = 1.0 + jax.random.uniform(rng.named(key, "scale"), (batch, channels, 2), x.dtype, -scale, scale)
  shifts = jax.random.uniform(rng.named(key, "shift"), (batch, channels, 2), x.dtype, -shift, shift) * jnp.array(
      [height, width], x.dtype)
  rows, cols = jnp.meshgrid(jnp.arange(height, dtype=x.dtype) - (height - 1) / 2,
                            jnp.arange(width, dtype=x.dtype) - (width - 1) / 2, indexing="ij")

  def one(image, shear_, scale_, shift_):   # image (H, W); output (r, c) (centred) reads the inverse warp's point
    source_rows = (rows - shift_[0]) / scale_[0]
    source_cols = (cols - shift_[1] - shear_ * rows) / scale_[1]
    return jax.scipy.ndimage.map_coordinates(
        image, [source_rows + (height - 1) / 2, source_cols + (width - 1) / 2], order=1, mode="constant", cval=-1.0)

  warp = jax.vmap(jax.vmap(one, in_axes=(2, 0, 0, 0), out_axes=2))
  return warp(x, shears, scales, shifts)


POLICIES = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
    # Shape changes that keep a digit's identity but not its style, for the view InfoGAN's Q reads
    # (`train.info_augment`): a code that Q must read through them cannot sit on stroke width or slant.
    "stroke": (stroke,),
    "affine": (affine,),
}


def parse_policy(policy: str, field: str = "config.train.augment") -> tuple[str, ...]:
  """'color,translation' -> ('color', 'translation'); UserError naming `field` on an unknown name."""
  names = tuple(p.strip() for p in policy.split(",") if p.strip())
  for name in names:
    if name not in POLICIES:
      raise UserError(f"{field}: unknown DiffAugment policy {name!r}: "
                      f"use a comma-separated subset of {', '.join(POLICIES)}")
  return names


def diff_augment(x: jax.Array, key: jax.Array, policy: tuple[str, ...] = ("color", "translation", "cutout")):
  """Applies the policy's operations in order, each with its own named key."""
  for name in policy:
    for op in POLICIES[name]:
      x = op(x, rng.named(key, op.__name__))
  return x
