"""PSNR and SSIM against their definitions (brute force over windows)."""
import jax
import numpy as np
import pytest

from jgan.core.errors import UserError
from jgan.metrics import image


def test_psnr_matches_the_formula_for_uint8_and_float():
  rng = np.random.default_rng(0)
  a = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
  b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
  mse = ((a.astype(np.float64) - b) ** 2).mean(axis=(1, 2, 3))
  np.testing.assert_allclose(image.psnr(a, b), 10 * np.log10(255.0**2 / mse), rtol=1e-5)
  # The same images as floats in [-1, 1] (data range 2) give the same PSNR.
  fa, fb = a / 127.5 - 1, b / 127.5 - 1
  np.testing.assert_allclose(image.psnr(fa, fb), image.psnr(a, b), rtol=1e-4)
  np.testing.assert_allclose(image.psnr(a / 255.0, b / 255.0, data_range=1.0), image.psnr(a, b), rtol=1e-4)
  assert np.isinf(image.psnr(a[0], a[0]))


def _brute_ssim(a, b, data_range, size=11, sigma=1.5):
  w1 = image.gaussian_window(size, sigma).astype(np.float64)
  w = np.outer(w1, w1)
  c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
  h, wd, ch = a.shape
  values = []
  for c in range(ch):
    for i in range(h - size + 1):
      for j in range(wd - size + 1):
        pa, pb = a[i:i + size, j:j + size, c], b[i:i + size, j:j + size, c]
        ma, mb = (w * pa).sum(), (w * pb).sum()
        va, vb = (w * pa * pa).sum() - ma**2, (w * pb * pb).sum() - mb**2
        cov = (w * pa * pb).sum() - ma * mb
        values.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
  return np.mean(values)


def test_ssim_equals_the_windowed_definition():
  rng = np.random.default_rng(1)
  a = rng.integers(0, 256, (14, 15, 2), dtype=np.uint8)
  b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
  expected = _brute_ssim(a.astype(np.float64), b.astype(np.float64), 255.0)
  assert float(image.ssim(a, b)) == pytest.approx(expected, abs=1e-5)
  assert float(image.ssim(a, a)) == pytest.approx(1.0, abs=1e-6)
  assert float(image.ssim(a, b)) == pytest.approx(float(image.ssim(b, a)), abs=1e-6)


def test_ssim_and_psnr_run_under_jit_per_image():
  x = jax.random.uniform(jax.random.key(0), (4, 16, 16, 3), minval=-1, maxval=1)
  y = jax.numpy.clip(x + 0.05 * jax.random.normal(jax.random.key(1), x.shape), -1, 1)
  scores = jax.jit(image.ssim)(x, y)
  assert scores.shape == (4,) and bool(np.all((np.asarray(scores) > 0.5) & (np.asarray(scores) < 1)))
  assert jax.jit(image.psnr)(x, y).shape == (4,)


def test_bad_image_inputs_are_user_errors():
  with pytest.raises(UserError, match="shapes differ"):
    image.psnr(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 3)))
  with pytest.raises(UserError, match="at least 11x11"):
    image.ssim(np.zeros((1, 8, 8, 1)), np.zeros((1, 8, 8, 1)))
