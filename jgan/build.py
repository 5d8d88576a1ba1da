"""From a config to the objects of a run: the GAN, its networks and optimizers.

Model families register a factory in MODELS: fn(model_config, element_shape,
dtype) -> (generator, discriminator). Everything is checked here, before any
compile, so a bad value costs one line and no time.
"""
from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
import optax

from jgan import losses
from jgan.errors import UserError
from jgan.gan import GAN
from jgan.models.dcgan import DCGANDiscriminator, DCGANGenerator, start_size
from jgan.models.mlp import MLPDiscriminator, MLPGenerator


def _dtype(name: str):
  if name not in ("float32", "bfloat16"):
    raise UserError(f"config.model.dtype={name!r}: use 'float32' or 'bfloat16'")
  return None if name == "float32" else jnp.bfloat16


def _dcgan(model_config, element_shape, dtype):
  if len(element_shape) != 3:
    raise UserError(f"model 'dcgan' needs images, but the data has shape {element_shape}")
  resolution, _, channels = element_shape
  try:
    start_size(resolution)
  except ValueError as e:
    raise UserError(f"config.data.resolution: {e}") from None
  g = DCGANGenerator(resolution=resolution, channels=channels, width=model_config.g_width,
                     max_mult=model_config.max_mult, dtype=dtype)
  d = DCGANDiscriminator(resolution=resolution, width=model_config.d_width, max_mult=model_config.max_mult,
                         use_batch_norm=model_config.d_batch_norm, dtype=dtype)
  return g, d


def _mlp(model_config, element_shape, dtype):
  images = len(element_shape) == 3
  g = MLPGenerator(output_shape=tuple(element_shape), hidden=tuple(model_config.g_hidden),
                   tanh_output=images, dtype=dtype)
  d = MLPDiscriminator(hidden=tuple(model_config.d_hidden), dtype=dtype)
  return g, d


MODELS: dict[str, Callable] = {"dcgan": _dcgan, "mlp": _mlp}

# config.task -> fn(config, element_shape) -> a task object with
#   batch_multiple: int                     real examples per step / config.train.batch_size
#   init(root_key, example_x) -> state      example_x: (1, *element_shape) float32
#   train_step(state, batch, key) -> (state, metrics)     pure; jitted by the loop
#   preview(state, key, batch) -> float (N, ...) in [-1, 1]   what the sample grid shows
# The GAN families and the image-repair tasks register here; the loop serves them all.
TASKS: dict[str, Callable] = {}


def _positive(value, name: str, integer: bool = False):
  if integer and (not isinstance(value, int) or isinstance(value, bool)):
    raise UserError(f"{name}={value!r} must be an integer")
  if not value > 0:
    raise UserError(f"{name}={value!r} must be positive")


def validate(config) -> None:
  """Raises UserError naming the first bad value in `config`."""
  t, m, d, log = config.train, config.model, config.data, config.log
  _positive(t.batch_size, "config.train.batch_size", integer=True)
  _positive(t.num_steps, "config.train.num_steps", integer=True)
  _positive(t.n_critic, "config.train.n_critic", integer=True)
  _positive(t.g_lr, "config.train.g_lr")
  _positive(t.d_lr, "config.train.d_lr")
  for name in ("b1", "b2"):
    if not 0 <= t[name] < 1:
      raise UserError(f"config.train.{name}={t[name]!r} must be in [0, 1)")
  if not 0 <= t.label_smoothing < 1:
    raise UserError(f"config.train.label_smoothing={t.label_smoothing!r} must be in [0, 1)")
  _positive(m.latent_dim, "config.model.latent_dim", integer=True)
  if m.name not in MODELS:
    raise UserError(f"config.model.name={m.name!r}: choose one of {', '.join(sorted(MODELS))}")
  _dtype(m.dtype)
  losses.get_losses(t.loss)
  _positive(d.resolution, "config.data.resolution", integer=True)
  if d.channels not in (1, 3):
    raise UserError(f"config.data.channels={d.channels!r} must be 1 or 3")
  for name in ("every_steps", "sample_every_steps", "checkpoint_every_steps", "keep_checkpoints", "num_samples"):
    _positive(log[name], f"config.log.{name}", integer=True)


def make_gan(config, element_shape) -> GAN:
  """The GAN described by `config` for data examples of shape `element_shape`."""
  t, m = config.train, config.model
  generator, discriminator = MODELS[m.name](m, tuple(element_shape), _dtype(m.dtype))
  d_loss, g_loss = losses.get_losses(t.loss)
  return GAN(
      generator=generator, discriminator=discriminator, latent_dim=m.latent_dim,
      g_optimizer=optax.adam(t.g_lr, b1=t.b1, b2=t.b2),
      d_optimizer=optax.adam(t.d_lr, b1=t.b1, b2=t.b2),
      d_loss=d_loss, g_loss=g_loss, n_critic=t.n_critic, label_smoothing=t.label_smoothing)


TASKS["gan"] = make_gan


def make_task(config, element_shape):
  """The task object named by `config.task` (default "gan"), after validating the config."""
  validate(config)
  name = config.get("task", "gan")
  if name not in TASKS:
    raise UserError(f"config.task={name!r}: choose one of {', '.join(sorted(TASKS))}")
  return TASKS[name](config, tuple(element_shape))
