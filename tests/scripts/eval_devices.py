"""Run with XLA_FLAGS=--xla_force_host_platform_device_count=2; prints RESULT {json}.

lenet-mnist features and the scores computed from them, on 1 and 2 devices
and with batch sizes that do and do not divide the set (padding path), one or two batches in flight.
"""
import json

import jax
import numpy as np

from jgan import features
from jgan.data.embedded import load_embedded_arrays
from jgan.eval import score_features

assert jax.device_count() == 2, jax.devices()
digits = load_embedded_arrays()[0][..., None]
gen, ref = digits[:300], digits[300:700]
lenet = features.get("lenet-mnist")
metrics = ("fid", "kid", "pr", "dc", "is")


def run(num_devices, batch, streams=1):
  g = lenet(gen, batch_size=batch, num_devices=num_devices, streams=streams)
  r = lenet(ref, batch_size=batch, num_devices=num_devices, streams=streams)
  from jgan.metrics.fid import gaussian_stats
  r["mu"], r["sigma"] = gaussian_stats(r["features"])
  return g["features"], score_features(metrics, g, r, num_classes=10, kid_subsets=10, kid_subset_size=100)


base_features, base_scores = run(1, 512)
result = {}
for num_devices, batch, streams in ((1, 7, 1), (1, 64, 1), (2, 64, 1), (2, 100, 1), (2, 512, 1), (2, 64, 2)):
  feats, scores = run(num_devices, batch, streams)
  result[f"{num_devices}dev_b{batch}_s{streams}"] = {
      "features": float(np.max(np.abs(feats - base_features))),
      "scores": max(abs(scores[k] - base_scores[k]) / max(abs(base_scores[k]), 1e-12) for k in base_scores)}
print("RESULT " + json.dumps(result))
