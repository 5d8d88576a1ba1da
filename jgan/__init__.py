"""jgan: generative adversarial networks in JAX/Flax.

    import jgan
    config = jgan.base_config()                     # every field, with its default
    state = jgan.fit(config, "runs/dcgan")          # the one training loop (resumes from the workdir)
    images = jgan.load_sampler("runs/dcgan").sample(jax.random.key(0), 64)

The package, one folder per role:

  config.py    the one config schema (base_config, with_defaults, variants)
  core/        errors, the PRNG discipline, device meshes, the CLI wrapper
  tasks/       what the loop trains: the Task protocol, the registry, GAN, BiGAN, inpainting, super-resolution
  models/      every Flax module (pure: params in, arrays out) and the config -> networks factory
  objectives/  losses, penalties, DiffAugment, inpainting masks: small pure functions
  train/       the loop, its hooks, checkpoints, the run directory, the shared optimizer builder
  data/        sources (embedded MNIST, tfds, folders, zips, toy 2D), feeders, image I/O
  eval/        scoring runs and image sets, the eval hook, probes, conditional and BiGAN checks
  metrics/     FID, KID, precision/recall, IS, class and mode statistics, PSNR/SSIM
  features/    feature extractors (Inception, lenet-mnist, VGG) and their weight files
  infer/       using a trained run: sampling, image repair
  bench/       speed, toy-2D mode coverage, image-repair baselines

Attributes below load on first use, so `import jgan` stays cheap (the CLIs parse
their flags before JAX is imported).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "base_config": ("jgan.config", "base_config"),
    "with_defaults": ("jgan.config", "with_defaults"),
    "UserError": ("jgan.core.errors", "UserError"),
    "fit": ("jgan.train.run", "train"),   # not `train`: that name is the jgan.train package
    "make_task": ("jgan.tasks", "make_task"),
    "element_shape": ("jgan.tasks", "element_shape"),
    "load_sampler": ("jgan.infer.sampling", "load"),
    "evaluate": ("jgan.eval", "evaluate"),
    "evaluate_run": ("jgan.eval", "evaluate_run"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
  if name not in _LAZY:
    raise AttributeError(f"module 'jgan' has no attribute {name!r}")
  module, attribute = _LAZY[name]
  value = getattr(importlib.import_module(module), attribute)
  globals()[name] = value
  return value
