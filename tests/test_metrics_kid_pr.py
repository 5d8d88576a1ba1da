"""KID, precision/recall, density/coverage, Inception Score and class KL against brute-force definitions."""
import itertools

import numpy as np
import pytest

from jgan.core.errors import UserError
from jgan.metrics import classes, inception_score
from jgan.metrics import kid as kid_lib
from jgan.metrics import precision_recall as pr


def _brute_mmd2(x, y):
  d = x.shape[1]
  k = lambda a, b: (np.dot(a, b) / d + 1.0) ** 3
  m = len(x)
  xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
  yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
  xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
  return xx + yy - 2 * xy


def test_kid_equals_the_brute_force_unbiased_mmd():
  rng = np.random.default_rng(0)
  x, y = rng.normal(size=(12, 4)), rng.normal(size=(12, 4)) + 0.7
  assert kid_lib.kid(x, y, num_subsets=1, subset_size=12)["kid"] == pytest.approx(_brute_mmd2(x, y), rel=1e-10)
  # With subsets: the same draws as kid()'s seeded generator, scored one by one.
  a, b = rng.normal(size=(20, 3)), rng.normal(size=(25, 3)) * 1.5
  draw = np.random.default_rng(5)
  expected = []
  for _ in range(4):
    ia, ib = draw.choice(20, 6, replace=False), draw.choice(25, 6, replace=False)
    expected.append(_brute_mmd2(a[ia], b[ib]))
  result = kid_lib.kid(a, b, num_subsets=4, subset_size=6, seed=5)
  assert result["kid"] == pytest.approx(np.mean(expected), rel=1e-10)
  assert result["kid_std"] == pytest.approx(np.std(expected), rel=1e-10)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
  rng = np.random.default_rng(1)
  same = kid_lib.kid(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)), num_subsets=20, subset_size=200)
  other = kid_lib.kid(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)) + 1.0, num_subsets=20, subset_size=200)
  assert abs(same["kid"]) < 3 * same["kid_std"] + 1e-3
  assert other["kid"] > 10 * abs(same["kid"]) and other["kid"] > 0


def _brute_radii(x, k):
  return np.array([sorted(np.linalg.norm(x - x[i], axis=1))[k] for i in range(len(x))])


def _brute_pr(real, fake, k):
  rr, rf = _brute_radii(real, k), _brute_radii(fake, k)
  precision = np.mean([any(np.linalg.norm(f - real[i]) <= rr[i] for i in range(len(real))) for f in fake])
  recall = np.mean([any(np.linalg.norm(r - fake[j]) <= rf[j] for j in range(len(fake))) for r in real])
  return precision, recall


def _brute_dc(real, fake, k):
  rr = _brute_radii(real, k)
  inside = np.array([[np.linalg.norm(f - real[i]) <= rr[i] for i in range(len(real))] for f in fake])
  return inside.sum() / (k * len(fake)), inside.any(0).mean()


def test_precision_recall_density_coverage_equal_brute_force():
  rng = np.random.default_rng(2)
  real = rng.normal(size=(40, 5))
  fake = np.concatenate([rng.normal(size=(25, 5)) * 0.6 + 0.5, rng.normal(size=(10, 5)) + 4.0])
  p, r = _brute_pr(real, fake, 3)
  got = pr.precision_recall(real, fake, k=3)
  assert got["precision"] == pytest.approx(p) and got["recall"] == pytest.approx(r)
  assert 0 < p < 1 and 0 < r < 1  # the case is not trivial
  d, c = _brute_dc(real, fake, 5)
  got = pr.density_coverage(real, fake, k=5)
  assert got["density"] == pytest.approx(d) and got["coverage"] == pytest.approx(c)


def test_nearest_neighbour_metrics_do_not_depend_on_the_block_size():
  rng = np.random.default_rng(3)
  real, fake = rng.normal(size=(60, 4)), rng.normal(size=(50, 4)) + 0.3
  np.testing.assert_array_equal(pr.knn_radii(real, 3, block=7), pr.knn_radii(real, 3))
  radii = pr.knn_radii(real, 3)
  for a, b in zip(pr._ball_counts(real, radii, fake, block=9), pr._ball_counts(real, radii, fake)):
    np.testing.assert_array_equal(a, b)


def test_identical_sets_have_full_precision_and_recall():
  x = np.random.default_rng(4).normal(size=(30, 3))
  assert pr.precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
  assert pr.density_coverage(x, x)["coverage"] == 1.0


def test_inception_score_equals_its_definition():
  rng = np.random.default_rng(5)
  logits = rng.normal(size=(40, 6)) * 3
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  scores = []
  for part in np.split(p, 4):
    marginal = part.mean(0)
    scores.append(np.exp(np.mean([np.sum(q * np.log(q / marginal)) for q in part])))
  got = inception_score.inception_score(logits, splits=4)
  assert got["is"] == pytest.approx(np.mean(scores), rel=1e-10)
  assert got["is_std"] == pytest.approx(np.std(scores), rel=1e-8)
  # Confident, evenly spread predictions over K classes score K; one class scores 1.
  confident = np.eye(5)[np.arange(50) % 5] * 100
  assert inception_score.inception_score(confident, splits=1)["is"] == pytest.approx(5.0, rel=1e-6)
  assert inception_score.inception_score(np.tile(confident[:1], (50, 1)), splits=1)["is"] == pytest.approx(1.0)


def test_class_kl_and_label_accuracy():
  assert classes.class_kl(np.arange(100) % 10, 10) == pytest.approx(0.0, abs=1e-12)
  assert classes.class_kl(np.zeros(50, int), 10) == pytest.approx(np.log(10))
  half = np.arange(100) % 5  # only classes 0-4: KL = log 2
  assert classes.class_kl(half, 10) == pytest.approx(np.log(2))
  assert classes.label_accuracy([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75


@pytest.mark.parametrize("call,message", [
    (lambda: kid_lib.kid(np.zeros((1, 3)), np.zeros((5, 3))), "at least 2"),
    (lambda: pr.precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3), "at least 4"),
    (lambda: pr.density_coverage(np.zeros((10, 2)), np.zeros((0, 2))), "empty"),
    (lambda: inception_score.inception_score(np.zeros((5, 3)), splits=10), "at least 10"),
    (lambda: classes.class_kl(np.array([0, 12]), 10), r"\[0, 10\)"),
])
def test_too_few_samples_and_bad_inputs_are_one_line_errors(call, message):
  with pytest.raises(UserError, match=message) as error:
    call()
  assert "\n" not in str(error.value)
