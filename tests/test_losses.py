"""GAN losses against their formulas, evaluated independently in numpy."""
import jax
import numpy as np
import pytest

from jgan.core.errors import UserError
from jgan.objectives import losses

REAL = np.array([2.0, -0.5, 0.3], np.float32)
FAKE = np.array([-1.0, 0.7, 1.5, -3.0], np.float32)


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


@pytest.mark.parametrize("logit", [-4.0, -2.0, 0.0, 3.0])
def test_generator_loss_gradients_at_a_known_logit(logit):
  # minimax: L = log(1 - D) = log(1 - s(l)), dL/dl = -s(l): vanishes when D rejects the fake (l << 0).
  # non-saturating: L = -log D = -log s(l), dL/dl = -(1 - s(l)): largest exactly there.
  x = np.array([logit], np.float32)
  minimax = float(jax.grad(losses.g_minimax)(x)[0])
  nonsat = float(jax.grad(losses.g_non_saturating)(x)[0])
  np.testing.assert_allclose(minimax, -_sigmoid(logit), rtol=1e-5)
  np.testing.assert_allclose(nonsat, -(1 - _sigmoid(logit)), rtol=1e-5)
  np.testing.assert_allclose(float(losses.g_minimax(x)), np.log(1 - _sigmoid(logit)), rtol=1e-5)


def test_cross_entropy_with_one_sided_label_smoothing():
  t = 0.9
  s_r, s_f = _sigmoid(REAL), _sigmoid(FAKE)
  want = -np.mean(t * np.log(s_r) + (1 - t) * np.log(1 - s_r)) - np.mean(np.log(1 - s_f))
  np.testing.assert_allclose(float(losses.d_cross_entropy(REAL, FAKE, 0.1)), want, rtol=1e-5)


def test_least_squares_hinge_and_wasserstein_values():
  np.testing.assert_allclose(float(losses.d_least_squares(REAL, FAKE)),
                             0.5 * np.mean((REAL - 1) ** 2) + 0.5 * np.mean(FAKE ** 2), rtol=1e-6)
  np.testing.assert_allclose(float(losses.d_least_squares(REAL, FAKE, 0.2)),
                             0.5 * np.mean((REAL - 0.8) ** 2) + 0.5 * np.mean(FAKE ** 2), rtol=1e-6)
  np.testing.assert_allclose(float(losses.g_least_squares(FAKE)), 0.5 * np.mean((FAKE - 1) ** 2), rtol=1e-6)
  np.testing.assert_allclose(float(losses.d_hinge(REAL, FAKE)),
                             np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE)), rtol=1e-6)
  np.testing.assert_allclose(float(losses.d_wasserstein(REAL, FAKE)), FAKE.mean() - REAL.mean(), rtol=1e-6)
  np.testing.assert_allclose(float(losses.g_wasserstein(FAKE)), -FAKE.mean(), rtol=1e-6)


def test_registry_names_every_family_and_rejects_unknown_names():
  assert {"minimax", "non_saturating", "least_squares", "wasserstein", "hinge"} <= set(losses.LOSSES)
  with pytest.raises(UserError, match="unknown loss 'wgan'"):
    losses.get_losses("wgan")


def test_top_k_generator_loss_keeps_the_samples_d_scores_highest():
  # FAKE = [-1.0, 0.7, 1.5, -3.0]: D ranks 1.5, 0.7, -1.0, -3.0. Half keeps 1.5 and 0.7.
  nonsat = lambda logits: np.log1p(np.exp(-np.asarray(logits, np.float64)))   # -log s(l)
  half = float(losses.top_k_generator_loss(losses.g_non_saturating, FAKE, 0.5))
  np.testing.assert_allclose(half, nonsat([1.5, 0.7]).mean(), rtol=1e-6)
  # ceil(0.6 * 4) = 3 kept; 1.0 is the plain loss.
  np.testing.assert_allclose(float(losses.top_k_generator_loss(losses.g_non_saturating, FAKE, 0.6)),
                             nonsat([1.5, 0.7, -1.0]).mean(), rtol=1e-6)
  np.testing.assert_allclose(float(losses.top_k_generator_loss(losses.g_least_squares, FAKE, 1.0)),
                             float(losses.g_least_squares(FAKE)), rtol=1e-6)
  # The dropped samples get no gradient; the kept ones get -(1 - s(l)) / k.
  grad = np.asarray(jax.grad(lambda logits: losses.top_k_generator_loss(losses.g_non_saturating, logits, 0.5))(FAKE))
  np.testing.assert_allclose(grad, [0.0, -(1 - _sigmoid(0.7)) / 2, -(1 - _sigmoid(1.5)) / 2, 0.0], rtol=1e-5)


def test_top_k_fraction_falls_linearly_then_holds():
  got = [float(losses.top_k_fraction(step, 0.5, 100)) for step in (0, 50, 100, 400)]
  np.testing.assert_allclose(got, [1.0, 0.75, 0.5, 0.5], rtol=1e-6)
  assert float(losses.top_k_fraction(0, 0.25, 0)) == 0.25

