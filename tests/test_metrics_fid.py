"""FID against a direct scipy.linalg.sqrtm implementation of the Fréchet formula, and its properties."""
import numpy as np
import pytest
import scipy.linalg

from jgan.core.errors import UserError
from jgan.metrics import fid as fid_lib


def _scipy_fid(a, b):
  """The formula as the TTUR reference code writes it: np.cov, sqrtm of the product, real part."""
  mu1, mu2 = a.mean(0), b.mean(0)
  s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  covmean = scipy.linalg.sqrtm(s1 @ s2)
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def _correlated(rng, n, d, shift=0.0, scale=1.0):
  mixing = rng.normal(size=(d, d)) / np.sqrt(d)
  return (rng.normal(size=(n, d)) @ mixing) * scale + shift


@pytest.mark.parametrize("n,d", [(200, 8), (300, 32), (500, 64)])
def test_fid_equals_scipy_sqrtm_reference(n, d):
  rng = np.random.default_rng(d)
  a = _correlated(rng, n, d)
  b = _correlated(rng, n + 17, d, shift=0.3, scale=1.4)
  ours, ref = fid_lib.fid(a, b), _scipy_fid(a, b)
  assert ref > 1.0
  assert abs(ours - ref) <= 1e-6 * abs(ref)


def test_gaussian_stats_match_numpy():
  x = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
  mu, sigma = fid_lib.gaussian_stats(x)
  assert mu.dtype == sigma.dtype == np.float64
  np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-12)
  np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-10, atol=1e-14)


def test_fid_of_a_set_with_itself_is_zero_and_fid_is_symmetric():
  rng = np.random.default_rng(1)
  a, b = _correlated(rng, 400, 16), _correlated(rng, 300, 16, shift=0.5)
  assert fid_lib.fid(a, a) == pytest.approx(0.0, abs=1e-9)
  assert fid_lib.fid(a, b) == pytest.approx(fid_lib.fid(b, a), rel=1e-10)


def test_fid_of_a_pure_shift_is_the_squared_mean_distance():
  # Same covariance, means differ by delta: FID = |delta|^2 exactly.
  a = np.random.default_rng(2).normal(size=(100, 5))
  delta = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
  assert fid_lib.fid(a, a + delta) == pytest.approx(float(delta @ delta), rel=1e-9)


def test_fid_with_singular_covariances_is_finite_and_nonnegative():
  # Fewer samples than dimensions: rank-deficient covariances, where sqrtm struggles.
  rng = np.random.default_rng(3)
  value = fid_lib.fid(rng.normal(size=(10, 40)), rng.normal(size=(12, 40)))
  assert np.isfinite(value) and value >= 0


@pytest.mark.parametrize("a,b,message", [
    (np.zeros((0, 4)), np.zeros((5, 4)), "empty"),
    (np.zeros((1, 4)), np.zeros((5, 4)), "at least 2"),
    (np.zeros((5, 4, 1)), np.zeros((5, 4)), "shape"),
    (np.zeros((5, 4)), np.zeros((5, 3)), "feature sizes differ"),
    (np.full((5, 4), np.nan), np.zeros((5, 4)), "NaN"),
])
def test_bad_feature_sets_are_one_line_errors(a, b, message):
  with pytest.raises(UserError, match=message) as error:
    fid_lib.fid(a, b)
  assert "\n" not in str(error.value)
