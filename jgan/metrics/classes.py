"""Class-distribution metrics for conditional generators, from a classifier's predictions.

* `class_kl`: KL(predicted class histogram || target distribution), 0 when a
  generator produces classes in the right proportions (uniform by default);
* `label_accuracy`: how often the classifier agrees with the class the
  generator was asked for (conditional models);
* `confident_shares`: the fraction of samples the classifier is sure of, and
  how those sure samples spread over the classes (a malformed or missing mode
  shows in both).
"""
from __future__ import annotations

import numpy as np

from jgan.core.errors import UserError


def class_histogram(predicted, num_classes: int) -> np.ndarray:
  """int (N,) class ids -> float64 (num_classes,) frequencies summing to 1."""
  predicted = np.asarray(predicted)
  if predicted.ndim != 1 or predicted.size == 0:
    raise UserError(f"expected a non-empty vector of class ids, got shape {predicted.shape}")
  if predicted.min() < 0 or predicted.max() >= num_classes:
    raise UserError(f"class ids must lie in [0, {num_classes}), got {predicted.min()}..{predicted.max()}")
  return np.bincount(predicted, minlength=num_classes) / predicted.size


def kl_divergence(p, q) -> float:
  """KL(p || q) in nats for discrete distributions (0 log 0 = 0); inf when p has mass where q has none."""
  p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
  mask = p > 0
  if np.any(q[mask] <= 0):
    return float("inf")
  return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def class_kl(predicted, num_classes: int, target=None) -> float:
  """KL(histogram of predicted ids || target) in nats; target defaults to uniform over num_classes."""
  hist = class_histogram(predicted, num_classes)
  target = np.full(num_classes, 1.0 / num_classes) if target is None else np.asarray(target, np.float64)
  if target.shape != (num_classes,):
    raise UserError(f"target distribution has shape {target.shape}, expected ({num_classes},)")
  return kl_divergence(hist, target / target.sum())


def label_accuracy(predicted, intended) -> float:
  """Fraction of samples whose predicted class equals the class they were generated for."""
  predicted, intended = np.asarray(predicted), np.asarray(intended)
  if predicted.shape != intended.shape or predicted.size == 0:
    raise UserError(f"predicted {predicted.shape} and intended {intended.shape} labels must be equal, non-empty")
  return float(np.mean(predicted == intended))


def confident_shares(logits, num_classes: int, threshold: float = 0.9) -> dict:
  """From classifier logits (N, num_classes): {"confident": fraction of samples whose top softmax
  probability is >= threshold, "confident_min_share" / "confident_max_share": the rarest and
  commonest class's share among those samples (0 / 0 when none is confident)}."""
  logits = np.asarray(logits, np.float64)
  if logits.ndim != 2 or logits.shape[1] != num_classes or logits.shape[0] == 0:
    raise UserError(f"expected logits of shape (N, {num_classes}), got {logits.shape}")
  probs = np.exp(logits - logits.max(axis=1, keepdims=True))
  probs /= probs.sum(axis=1, keepdims=True)
  sure = probs.max(axis=1) >= threshold
  if not sure.any():
    return {"confident": 0.0, "confident_min_share": 0.0, "confident_max_share": 0.0}
  shares = class_histogram(probs[sure].argmax(axis=1), num_classes)
  return {"confident": float(sure.mean()), "confident_min_share": float(shares.min()),
          "confident_max_share": float(shares.max())}



def code_purity(codes, predicted, num_codes: int, num_classes: int) -> dict:
  """How cleanly each value of a generator's categorical code draws one class: InfoGAN's figure 2
  (Chen et al. 2016, arXiv:1606.03657), where each value of a 10-way code draws one digit, as numbers.

  Args:
    codes: int (N,) or (N, G): the value in [0, num_codes) of each of a sample's G codes (G = 1: one code).
    predicted: int, the same shape: the class a classifier reads for each code (for Stacked MNIST, code g
      against the digit of channel g).
    num_codes: the values per code; num_classes: the classifier's classes.
  Returns:
    {"code_purity": the share of a code value's samples in that value's commonest class, averaged over
       the values (and groups); 1.0 when every value draws one class,
     "code_purity_min": the lowest of those shares,
     "code_classes": how many distinct classes the values' commonest classes are (the fewest over the
       groups): num_classes when every class has a value of its own, fewer when values share a class,
     "code_top_class", "code_top_share": per value, its commonest class and that class's share
       (a list per group when G > 1)}.
  """
  codes, predicted = np.asarray(codes), np.asarray(predicted)
  if codes.shape != predicted.shape or codes.ndim not in (1, 2) or codes.size == 0:
    raise UserError(f"codes {codes.shape} and predicted classes {predicted.shape} must be equal, "
                    "non-empty (N,) or (N, G)")
  grouped = codes.ndim == 2
  codes, predicted = codes.reshape(codes.shape[0], -1), predicted.reshape(predicted.shape[0], -1)
  tops, shares = [], []
  for group in range(codes.shape[1]):
    counts = np.zeros((num_codes, num_classes), np.int64)
    np.add.at(counts, (codes[:, group], predicted[:, group]), 1)
    missing = np.flatnonzero(counts.sum(axis=1) == 0)
    if missing.size:
      raise UserError(f"code value {int(missing[0])} drew no sample: score at least {num_codes} samples that "
                      "take every value")
    tops.append(counts.argmax(axis=1))
    shares.append(counts.max(axis=1) / counts.sum(axis=1))
  all_shares = np.concatenate(shares)
  out_top = [t.tolist() for t in tops]
  out_share = [s.tolist() for s in shares]
  return {"code_purity": float(all_shares.mean()), "code_purity_min": float(all_shares.min()),
          "code_classes": int(min(len(np.unique(t)) for t in tops)),
          "code_top_class": out_top if grouped else out_top[0],
          "code_top_share": out_share if grouped else out_share[0]}
