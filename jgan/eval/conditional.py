"""Checks of a class-conditional generator: do samples of label k look like class k?"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jgan.core import rng
from jgan.data import images as image_lib
from jgan.data.pipeline import scale_images
from jgan.data.sources import open_source
from jgan.eval.probe import fit_ridge
from jgan.tasks import element_shape, make_task


def label_agreement(config, state, num: int = 1000, num_train: int = 8000) -> tuple[float, float, str]:
  """(fraction of `num` samples, labels 0..K-1 in turn, classified as their label; the classifier's
  accuracy on held-out real examples; the classifier's name).

  Grey 10-class data (MNIST-like) is judged by the shipped `lenet-mnist` classifier
  (jgan.features); anything else by a ridge classifier fitted on `num_train` real
  examples' pixels, its accuracy measured on the rest.
  """
  gan = make_task(config, element_shape(config.data))
  key = rng.named(jax.random.key(config.seed), "label_check")
  wanted = jnp.arange(num, dtype=jnp.int32) % gan.num_classes
  state = jax.jit(gan.sampling_state)(state, rng.named(key, "recalibrate"))
  generate = jax.jit(lambda s, z, y: gan.generate(s, z, labels=y, key=rng.named(key, "noise"))[0])
  samples = np.asarray(generate(state, gan.latents(key, num), wanted))
  if samples.ndim == 4 and samples.shape[-1] == 1 and gan.num_classes == 10:
    from jgan import features
    from jgan.features import lenet
    classifier = features.get("lenet-mnist")
    predicted = np.asarray(classifier(image_lib.to_uint8(samples))["logits"]).argmax(-1)
    held_out = float(lenet.load_params()[1]["held_out_accuracy"])
    return float(np.mean(predicted == np.asarray(wanted))), held_out, "lenet-mnist"
  data = open_source(config.data, seed=config.seed).read_all()
  x = np.asarray(scale_images(jnp.asarray(data["x"])))
  labels = np.asarray(data["label"])
  probe = fit_ridge(x[:num_train], labels[:num_train], gan.num_classes)
  return (probe.accuracy(samples, np.asarray(wanted)), probe.accuracy(x[num_train:], labels[num_train:]),
          "pixel ridge")
