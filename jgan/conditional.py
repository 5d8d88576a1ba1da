"""Checks of a class-conditional generator: do samples of label k look like class k?"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jgan import rng
from jgan.build import make_task
from jgan.data.pipeline import scale_images
from jgan.data.sources import open_source
from jgan.probe import fit_ridge
from jgan.train.run import element_shape


def label_agreement(config, state, num: int = 1000, num_train: int = 8000) -> tuple[float, float]:
  """(fraction of `num` samples, labels 0..K-1 in turn, that a ridge classifier on raw pixels
  assigns to their label; that classifier's accuracy on held-out real examples)."""
  gan = make_task(config, element_shape(config.data))
  data = open_source(config.data, seed=config.seed).read_all()
  x = np.asarray(scale_images(jnp.asarray(data["x"])))
  labels = np.asarray(data["label"])
  probe = fit_ridge(x[:num_train], labels[:num_train], gan.num_classes)
  key = rng.named(jax.random.key(config.seed), "label_check")
  wanted = jnp.arange(num, dtype=jnp.int32) % gan.num_classes
  samples = jax.jit(lambda s, z, y: gan.generate(s, z, labels=y)[0])(state, gan.latents(key, num), wanted)
  return probe.accuracy(np.asarray(samples), np.asarray(wanted)), probe.accuracy(x[num_train:], labels[num_train:])
