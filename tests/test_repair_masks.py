"""Hole masks: deterministic per seed, binary, and of the requested area."""
import functools

import jax
import numpy as np
import pytest

from jgan.objectives import masks

# One compile per (kind, shape, area): eager vmaps of argsort are slow on CPU.
_make = jax.jit(masks.make_masks, static_argnums=(1, 2, 3, 4))  # area traced: one compile per shape


@functools.lru_cache(maxsize=None)
def _masks(seed, kind, batch, height, width, area):
  return np.asarray(_make(jax.random.key(seed), kind, batch, height, width, area))


@pytest.mark.parametrize("kind", masks.KINDS)
def test_same_seed_same_masks_other_seed_other_masks(kind):
  a = _masks(3, kind, 16, 32, 32, 0.25)
  b = np.asarray(_make(jax.random.key(3), kind, 16, 32, 32, 0.25))  # recomputed, not cached
  np.testing.assert_array_equal(a, b)
  assert a.shape == (16, 32, 32, 1) and a.dtype == np.float32
  assert set(np.unique(a)) <= {0.0, 1.0}
  other = _masks(4, kind, 16, 32, 32, 0.25)
  if kind == "center":
    np.testing.assert_array_equal(a, other)  # not random by design
  else:
    assert not np.array_equal(a, other)
    assert len({m.tobytes() for m in a}) == len(a)  # examples differ from each other too


@pytest.mark.parametrize("kind", ["boxes", "strokes"])
@pytest.mark.parametrize("area", [0.1, 0.25, 0.5])
@pytest.mark.parametrize("shape", [(32, 32), (28, 40)])
def test_random_kinds_hit_the_area_exactly(kind, area, shape):
  m = _masks(0, kind, 64, *shape, area)
  counts = m.sum(axis=(1, 2, 3))
  np.testing.assert_array_equal(counts, np.full(64, round(area * shape[0] * shape[1])))


@pytest.mark.parametrize("area", [0.1, 0.25, 0.5])
def test_center_box_is_centred_and_close_to_the_area(area):
  m = _masks(0, "center", 1, 32, 32, area)[0, ..., 0]
  rows, cols = np.nonzero(m)
  side = round(32 * area**0.5)
  assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side
  assert m.sum() == side * side  # a solid square
  assert abs(rows.min() - (32 - rows.max() - 1)) <= 1  # centred
  assert abs(m.mean() - area) <= (2 * side + 1) / 32**2  # within one pixel row and column of the target


def test_example_masks_do_not_depend_on_the_batch_size():
  np.testing.assert_array_equal(_masks(5, "strokes", 4, 32, 32, 0.25), _masks(5, "strokes", 16, 32, 32, 0.25)[:4])


def test_training_masks_mix_kinds_and_areas():
  m = np.asarray(jax.jit(lambda k: masks.random_masks(k, masks.KINDS, 48, 32, 32, 0.1, 0.4))(jax.random.key(0)))
  fractions = m.mean(axis=(1, 2, 3))
  assert fractions.min() >= 0.1 - 2 / 32 and fractions.max() <= 0.4 + 2 / 32
  assert fractions.std() > 0.03  # areas drawn per example, not one for all
  center = _masks(0, "center", 1, 32, 32, 0.25)[0]
  # Some examples are not centred squares: the kinds are mixed.
  assert any(not np.array_equal(x, center) for x in m)


def test_unknown_kind_is_refused():
  with pytest.raises(ValueError, match="unknown mask kind"):
    masks.make_mask(jax.random.key(0), "circle", 8, 8, 0.2)
