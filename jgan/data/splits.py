"""The study split of the embedded digits: a held-out test set no GAN or classifier trains on.

`mnist10k` (10,000 digits) is split by one seeded permutation, `np.random.default_rng(0).permutation(10000)`:

  * `heldout`: its first 1,000 indices, the real test set of `experiments.augment_study`. They are exactly the
    digits `experiments.train_lenet` held out when it trained the packaged `lenet-mnist` weights (same seed,
    same permutation), so the FID features and the label classifier never saw them either.
  * `pool`: the other 9,000, the only digits any GAN or classifier of the study trains on.
  * `pool:N`: N labelled digits from the pool, N/10 of each class (remainder to the lowest classes), the first
    ones of each class in the pool's order: `pool:100` is inside `pool:500`, which is inside `pool:1000`.

`config.data.split` selects them for `config.data.source=mnist10k` (`train`, the default, is all 10,000).
"""
from __future__ import annotations

import numpy as np

from jgan.core.errors import UserError

HELD_OUT = 1000
SPLIT_SEED = 0   # the seed experiments.train_lenet splits with by default
STUDY_SPLITS = ("heldout", "pool", "pool:N")


def _order(num_total: int) -> np.ndarray:
  return np.random.default_rng(SPLIT_SEED).permutation(num_total)


def heldout_indices(num_total: int = 10_000) -> np.ndarray:
  """int (1000,): indices of the held-out test digits in mnist10k."""
  return _order(num_total)[:HELD_OUT]


def pool_indices(num_total: int = 10_000) -> np.ndarray:
  """int (num_total - 1000,): indices of every other digit, in the permutation's order."""
  return _order(num_total)[HELD_OUT:]


def balanced_subset(indices: np.ndarray, labels: np.ndarray, num: int, num_classes: int) -> np.ndarray:
  """The first examples of each class of `indices` (in their order): `num` in all, balanced over the classes.

  Args:
    indices: int (N,) candidate indices; labels: int (>= max index + 1,) labels of the whole set.
  """
  per_class = np.full(num_classes, num // num_classes) + (np.arange(num_classes) < num % num_classes)
  picked = []
  for k in range(num_classes):
    of_class = indices[labels[indices] == k]
    if len(of_class) < per_class[k]:
      raise UserError(f"pool:{num}: class {k} has only {len(of_class)} digits in the pool, {per_class[k]} needed")
    picked.append(of_class[:per_class[k]])
  return np.sort(np.concatenate(picked))


def split_indices(split: str, labels: np.ndarray, num_classes: int) -> np.ndarray | None:
  """Indices of mnist10k for `split` (None: `train`, the whole set); a one-line UserError for an unknown one."""
  if split == "train":
    return None
  if split == "heldout":
    return heldout_indices(len(labels))
  if split == "pool":
    return pool_indices(len(labels))
  if split.startswith("pool:"):
    try:
      num = int(split[5:])
    except ValueError:
      num = 0
    pool = pool_indices(len(labels))
    if not 0 < num <= len(pool):
      raise UserError(f"config.data.split={split!r}: N in pool:N must be an integer in 1..{len(pool)}")
    return balanced_subset(pool, labels, num, num_classes)
  raise UserError(f"config.data.split={split!r} does not exist for mnist10k: use train (all 10,000), "
                  "heldout (the 1,000 test digits), pool (the other 9,000) or pool:N (N labelled pool digits)")
