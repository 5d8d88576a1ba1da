"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs").

IS = exp(E_x KL(p(y|x) || p(y))), computed on each of `splits` contiguous
equal parts of the samples (the original protocol: 10 splits of 5,000), then
mean and standard deviation over the splits. Range: [1, number of classes].
It needs class logits: the `inception` extractor gives them only with weights
that carry the 1008-way `fc` layer (pytorch-fid's file); `lenet-mnist` gives
10-way digit logits (the "MNIST IS" used in the GAN literature).
"""
from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from jgan.metrics import checks


def inception_score(logits, splits: int = 10) -> dict:
  """(N, K) class logits -> {"is": mean, "is_std": std over splits}; N >= splits."""
  logits = checks.features(logits, "logits", max(splits, 1), f"the Inception Score with {splits} splits")
  log_p = log_softmax(logits, axis=1)
  scores = []
  for part in np.array_split(log_p, splits):
    p = np.exp(part)
    log_marginal = np.log(p.mean(axis=0) + 1e-300)
    kl = np.sum(p * (part - log_marginal), axis=1)
    scores.append(np.exp(kl.mean()))
  return {"is": float(np.mean(scores)), "is_std": float(np.std(scores))}
