"""Image-to-image quality: PSNR and SSIM (pure jnp functions, usable inside jit).

Both take two image batches of the same shape, (N, H, W, C) or one (H, W, C)
image, as uint8 or float, and return one score per image (shape (N,) or ()).

Value ranges: `data_range` is the span of pixel values, max - min. It
defaults to 255 for uint8 and to 2.0 for float inputs, i.e. jgan's [-1, 1]
convention; pass 1.0 for float images in [0, 1].
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jgan.core.errors import UserError


def _prepare(a, b, data_range):
  if a.shape != b.shape:
    raise UserError(f"image shapes differ: {a.shape} vs {b.shape}")
  if a.ndim not in (3, 4):
    raise UserError(f"images must be (N, H, W, C) or (H, W, C), got shape {a.shape}")
  if data_range is None:
    data_range = 255.0 if a.dtype == jnp.uint8 else 2.0
  return a.astype(jnp.float32), b.astype(jnp.float32), float(data_range)


def psnr(a, b, data_range: float | None = None, weights=None, mse_floor: float = 0.0) -> jax.Array:
  """Peak signal-to-noise ratio in dB, 10 log10(data_range^2 / MSE), per image.

  `weights` (broadcastable to the images, e.g. a (N, H, W, 1) hole mask) restricts
  the MSE to the weighted pixels; `mse_floor` > 0 caps the score at
  10 log10(data_range^2 / mse_floor) (a finite training metric).
  Range: (-inf, +inf]; identical images give +inf. Typical values: 20-40 dB.
  """
  a, b, data_range = _prepare(jnp.asarray(a), jnp.asarray(b), data_range)
  sq = jnp.square(a - b)
  if weights is None:
    mse = jnp.mean(sq, axis=(-3, -2, -1))
  else:
    w = jnp.broadcast_to(jnp.asarray(weights, jnp.float32), sq.shape)
    mse = jnp.sum(sq * w, axis=(-3, -2, -1)) / jnp.maximum(jnp.sum(w, axis=(-3, -2, -1)), 1.0)
  return 10.0 * jnp.log10(data_range**2 / jnp.maximum(mse, mse_floor))


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
  """Normalised 1D Gaussian of `size` taps (the separable SSIM window)."""
  x = np.arange(size, dtype=np.float64) - (size - 1) / 2
  w = np.exp(-0.5 * (x / sigma) ** 2)
  return (w / w.sum()).astype(np.float32)


def _filter_valid(x, window):
  """Separable 'valid' filtering of (N, H, W, C) with a 1D window, per channel."""
  size = window.shape[0]
  channels = x.shape[-1]
  kh = jnp.tile(jnp.asarray(window).reshape(size, 1, 1, 1), (1, 1, 1, channels))
  kw = jnp.tile(jnp.asarray(window).reshape(1, size, 1, 1), (1, 1, 1, channels))
  dn = ("NHWC", "HWIO", "NHWC")
  hp = jax.lax.Precision.HIGHEST
  x = jax.lax.conv_general_dilated(x, kh, (1, 1), "VALID", dimension_numbers=dn, feature_group_count=channels,
                                   precision=hp)
  return jax.lax.conv_general_dilated(x, kw, (1, 1), "VALID", dimension_numbers=dn, feature_group_count=channels,
                                      precision=hp)


def ssim(a, b, data_range: float | None = None, window_size: int = 11, sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> jax.Array:
  """Structural similarity (Wang et al. 2004), mean over pixels and channels, per image.

  Gaussian 11x11 window (sigma 1.5), constants C1 = (k1 L)^2 and C2 = (k2 L)^2
  with L = data_range, local statistics over the 'valid' region (as
  tf.image.ssim; images must be at least `window_size` pixels on each side).
  Range: [-1, 1]; 1 means identical.
  """
  a, b, data_range = _prepare(jnp.asarray(a), jnp.asarray(b), data_range)
  single = a.ndim == 3
  if single:
    a, b = a[None], b[None]
  if min(a.shape[1:3]) < window_size:
    raise UserError(f"SSIM needs images of at least {window_size}x{window_size} pixels, got {a.shape[1:3]}")
  window = gaussian_window(window_size, sigma)
  c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
  mu_a, mu_b = _filter_valid(a, window), _filter_valid(b, window)
  var_a = _filter_valid(a * a, window) - mu_a**2
  var_b = _filter_valid(b * b, window) - mu_b**2
  cov = _filter_valid(a * b, window) - mu_a * mu_b
  ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
  scores = jnp.mean(ssim_map, axis=(1, 2, 3))
  return scores[0] if single else scores
