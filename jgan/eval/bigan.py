"""BiGAN's own evaluation: reconstruction error and linear probes on what its encoder learned."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jgan.core import rng
from jgan.data.pipeline import scale_images
from jgan.data.sources import open_source
from jgan.eval.probe import fit_ridge
from jgan.tasks.bigan import BiGAN
from jgan.tasks.state import GANState


def evaluate(task: BiGAN, state: GANState, config, num_train: int = 8000, batch: int = 500) -> dict:
  """Reconstruction error and linear probes on the labelled source of `config` (the embedded MNIST).

  The first `num_train` examples (in source order) fit the probes, the rest test them.
  Returns {"recon_mse": mean squared error of G(E(x)) on [-1, 1] pixels of the test
  examples, "probe_e": test accuracy of a ridge probe on E(x), "probe_pixels": on raw
  pixels, "probe_random_e": on a random-init E (same architecture, another seed)}.
  """
  data = open_source(config.data, seed=config.seed).read_all()
  x = np.asarray(scale_images(jnp.asarray(data["x"])))
  labels = np.asarray(data["label"])
  num_classes = int(labels.max()) + 1
  num_train = min(num_train, len(x) - 1)
  random_state = task.init(rng.named(jax.random.key(config.seed), "random_encoder"), jnp.asarray(x[:1]))
  encode = jax.jit(task.encode)
  reconstruct = jax.jit(task.reconstruct)

  def in_batches(fn, s):
    return np.concatenate([np.asarray(fn(s, jnp.asarray(x[i:i + batch]))) for i in range(0, len(x), batch)])

  results = {"recon_mse": float(np.mean(np.square(in_batches(reconstruct, state)[num_train:] - x[num_train:])))}
  for name, feats in (("probe_e", in_batches(encode, state)), ("probe_pixels", x),
                      ("probe_random_e", in_batches(encode, random_state))):
    probe = fit_ridge(feats[:num_train], labels[:num_train], num_classes)
    results[name] = probe.accuracy(feats[num_train:], labels[num_train:])
  return results
