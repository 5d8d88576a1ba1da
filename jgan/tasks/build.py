"""From a config to the objects of a run: the GAN, its networks and optimizers.

Model families register a factory in MODELS: fn(model_config, element_shape,
dtype) -> (generator, discriminator). Everything is checked here, before any
compile, so a bad value costs one line and no time.
"""
from __future__ import annotations

import functools
from typing import Callable

import jax.numpy as jnp
import optax

from jgan.core.errors import UserError
from jgan.models.bigan import Encoder, JointDiscriminator
from jgan.models.dcgan import DCGANDiscriminator, DCGANGenerator, start_size
from jgan.models.mlp import MLPDiscriminator, MLPGenerator
from jgan.models.resnet import ResNetDiscriminator, ResNetGenerator
from jgan.models.stylegan import StyleDiscriminator, StyleGenerator
from jgan.objectives import augment, losses, regularizers
from jgan.tasks.bigan import BiGAN
from jgan.tasks.gan import GAN

# Defaults of the fields the GAN families added; configs written before them still load.
TRAIN_DEFAULTS = {
    "optimizer": "adam",     # adam | rmsprop (WGAN)
    "clip": 0.0,             # WGAN weight clipping c; 0 = off
    "gp_weight": 0.0,        # WGAN-GP lambda; 0 = off
    "r1_gamma": 0.0,         # R1 gamma; 0 = off
    "r1_every": 1,           # lazy R1: every k steps, weight x k
    "ema_decay": 0.0,        # EMA of G's weights (sampling uses it); 0 = off
    "augment": "",           # DiffAugment policy, e.g. "color,translation,cutout"; "" = off
    "acgan_weight": 1.0,     # weight of ACGAN's class loss when config.model.acgan
    "pack": 1,               # PacGAN: D scores groups of `pack` real or fake examples; 1 = off
    "lr_schedule": "constant",  # constant | linear | cosine: decay of g_lr and d_lr over num_steps
    "lr_final": 0.0,         # linear/cosine: the rate reached at num_steps, as a fraction of the initial one
}
MODEL_DEFAULTS = {
    "spectral_norm": False,  # spectral norm on every D layer (resnet)
    "num_classes": 0,        # > 0: class-conditional G and D (dcgan, resnet)
    "label_embed_dim": 0,    # conditional G: concatenate a learned label embedding of this size to z
                             # (dcgan: 0 means num_classes; resnet: 0 means conditional BN only)
    "acgan": False,          # conditional D as an ACGAN auxiliary classifier instead of projection
    "w_dim": 128,            # stylegan: size of w
    "mapping_layers": 4,     # stylegan: depth of the mapping network (8 in the paper)
    "style_mixing": 0.9,     # stylegan: mixing-regularisation probability
    "truncation": 1.0,       # stylegan: psi at sampling; 1 = off
    "mbstd_group": 4,        # stylegan D: minibatch-stddev group size
    "stochastic_encoder": False,  # bigan: ALI's reparameterised encoder
}


def option(section, name: str):
  """config.train/model field `name`, or its default for configs that predate it."""
  defaults = {**TRAIN_DEFAULTS, **MODEL_DEFAULTS}
  return section.get(name, defaults[name])


def _images_only(name: str, element_shape) -> tuple[int, int]:
  if len(element_shape) != 3:
    raise UserError(f"model {name!r} needs images, but the data has shape {element_shape}")
  resolution = element_shape[0]
  try:
    start_size(resolution)
  except ValueError as e:
    raise UserError(f"config.data.resolution: {e}") from None
  return resolution, element_shape[2]


def _dtype(name: str):
  if name not in ("float32", "bfloat16"):
    raise UserError(f"config.model.dtype={name!r}: use 'float32' or 'bfloat16'")
  return None if name == "float32" else jnp.bfloat16


def _class_fields(model_config) -> tuple[dict, dict]:
  """(G's, D's) class-conditioning fields of a conditional model (num_classes 0: unconditional)."""
  num_classes = option(model_config, "num_classes")
  return (dict(num_classes=num_classes, label_embed_dim=option(model_config, "label_embed_dim")),
          dict(num_classes=num_classes, acgan=option(model_config, "acgan")))


def _dcgan(model_config, element_shape, dtype):
  resolution, channels = _images_only("dcgan", element_shape)
  g_class, d_class = _class_fields(model_config)
  g = DCGANGenerator(resolution=resolution, channels=channels, width=model_config.g_width,
                     max_mult=model_config.max_mult, dtype=dtype, **g_class)
  d = DCGANDiscriminator(resolution=resolution, width=model_config.d_width, max_mult=model_config.max_mult,
                         use_batch_norm=model_config.d_batch_norm, dtype=dtype, **d_class)
  return g, d


def _mlp(model_config, element_shape, dtype):
  images = len(element_shape) == 3
  g = MLPGenerator(output_shape=tuple(element_shape), hidden=tuple(model_config.g_hidden),
                   tanh_output=images, dtype=dtype)
  d = MLPDiscriminator(hidden=tuple(model_config.d_hidden), dtype=dtype)
  return g, d


def _resnet(model_config, element_shape, dtype):
  resolution, channels = _images_only("resnet", element_shape)
  g_class, d_class = _class_fields(model_config)
  g = ResNetGenerator(resolution=resolution, channels=channels, width=model_config.g_width,
                      max_mult=model_config.max_mult, dtype=dtype, **g_class)
  d = ResNetDiscriminator(resolution=resolution, width=model_config.d_width, max_mult=model_config.max_mult,
                          spectral_norm=option(model_config, "spectral_norm"), dtype=dtype, **d_class)
  return g, d


def _stylegan(model_config, element_shape, dtype):
  resolution, channels = _images_only("stylegan", element_shape)
  g = StyleGenerator(resolution=resolution, channels=channels, width=model_config.g_width,
                     max_mult=model_config.max_mult, w_dim=option(model_config, "w_dim"),
                     mapping_layers=option(model_config, "mapping_layers"),
                     style_mixing=option(model_config, "style_mixing"), truncation=option(model_config, "truncation"))
  d = StyleDiscriminator(resolution=resolution, width=model_config.d_width, max_mult=model_config.max_mult,
                         mbstd_group=option(model_config, "mbstd_group"))
  return g, d


MODELS: dict[str, Callable] = {"dcgan": _dcgan, "mlp": _mlp, "resnet": _resnet, "stylegan": _stylegan}
CONDITIONAL_MODELS = ("dcgan", "resnet")     # models that take labels
SPECTRAL_NORM_MODELS = ("resnet",)   # models whose D has the spectral_norm switch
NOISE_MODELS = ("stylegan",)         # generators that draw their own randomness

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
  k = t.get("steps_per_call", 1)
  _positive(k, "config.train.steps_per_call", integer=True)
  for name, value in (("train.num_steps", t.num_steps), ("log.every_steps", log.every_steps),
                      ("log.sample_every_steps", log.sample_every_steps),
                      ("log.checkpoint_every_steps", log.checkpoint_every_steps)):
    if value % k:
      raise UserError(f"config.{name}={value} is not a multiple of config.train.steps_per_call={k}: "
                      "logs, samples and checkpoints land between calls")
  _validate_family(config)


def _validate_family(config) -> None:
  """The losses, stabilisers and architectures of the GAN families."""
  t, m = config.train, config.model
  images = config.data.source not in ("ring8", "grid25")
  if option(t, "optimizer") not in ("adam", "rmsprop"):
    raise UserError(f"config.train.optimizer={option(t, 'optimizer')!r}: use 'adam' or 'rmsprop'")
  for name in ("clip", "gp_weight", "r1_gamma", "ema_decay", "acgan_weight"):
    if not option(t, name) >= 0:
      raise UserError(f"config.train.{name}={option(t, name)!r} must be >= 0")
  if not option(t, "ema_decay") < 1:
    raise UserError(f"config.train.ema_decay={option(t, 'ema_decay')!r} must be < 1 (0 = off)")
  _positive(option(t, "r1_every"), "config.train.r1_every", integer=True)
  if option(t, "lr_schedule") not in LR_SCHEDULES:
    raise UserError(f"config.train.lr_schedule={option(t, 'lr_schedule')!r}: use one of {', '.join(LR_SCHEDULES)}")
  if not 0 <= option(t, "lr_final") <= 1:
    raise UserError(f"config.train.lr_final={option(t, 'lr_final')!r} must be in [0, 1]")
  pack = option(t, "pack")
  _positive(pack, "config.train.pack", integer=True)
  if t.batch_size % pack:
    raise UserError(f"config.train.batch_size={t.batch_size} must be a multiple of config.train.pack={pack}")
  if pack > 1 and (option(m, "num_classes") or config.get("task", "gan") != "gan"):
    raise UserError("config.train.pack (PacGAN) needs the unconditional gan task: set config.train.pack=1")
  if t.label_smoothing > 0 and t.loss not in losses.SMOOTHABLE:
    raise UserError(f"config.train.label_smoothing applies to the {', '.join(losses.SMOOTHABLE)} losses, "
                    f"not {t.loss!r}: set it to 0")
  if option(t, "gp_weight") > 0 and m.name == "dcgan" and m.d_batch_norm:
    raise UserError("config.train.gp_weight needs a D without BatchNorm (per-example gradients): "
                    "set config.model.d_batch_norm=False")
  policy = augment.parse_policy(option(t, "augment"))
  if policy and not images:
    raise UserError("config.train.augment (DiffAugment) works on images, not on 2D points: set it to ''")
  num_classes = option(m, "num_classes")
  if not isinstance(num_classes, int) or num_classes < 0:
    raise UserError(f"config.model.num_classes={num_classes!r} must be an integer >= 0")
  if num_classes and m.name not in CONDITIONAL_MODELS:
    raise UserError(f"config.model.num_classes: model {m.name!r} is unconditional; use one of "
                    f"{', '.join(CONDITIONAL_MODELS)}")
  if option(m, "acgan") and not num_classes:
    raise UserError("config.model.acgan needs class labels: set config.model.num_classes")
  if option(m, "spectral_norm") and m.name not in SPECTRAL_NORM_MODELS:
    raise UserError(f"config.model.spectral_norm: model {m.name!r} has no spectral-norm switch; use one of "
                    f"{', '.join(SPECTRAL_NORM_MODELS)}")
  if m.name == "stylegan":
    _positive(option(m, "w_dim"), "config.model.w_dim", integer=True)
    _positive(option(m, "mapping_layers"), "config.model.mapping_layers", integer=True)
    _positive(option(m, "mbstd_group"), "config.model.mbstd_group", integer=True)
    if not 0 <= option(m, "style_mixing") <= 1:
      raise UserError(f"config.model.style_mixing={option(m, 'style_mixing')!r} must be in [0, 1]")
    if t.batch_size % min(option(m, "mbstd_group"), t.batch_size):
      raise UserError(f"config.train.batch_size={t.batch_size} must be a multiple of "
                      f"config.model.mbstd_group={option(m, 'mbstd_group')}")
  if config.get("task", "gan") == "bigan":
    if t.loss == "least_squares":
      raise UserError("config.train.loss='least_squares' has no BiGAN form here: use non_saturating, minimax, "
                      "hinge or wasserstein")
    if num_classes or policy or option(t, "gp_weight") or option(t, "r1_gamma"):
      raise UserError("the bigan task takes no num_classes, augment, gp_weight or r1_gamma")


LR_SCHEDULES = ("constant", "linear", "cosine")


def learning_rate(t, lr: float, num_updates: int):
  """The rate of config.train `t` from `lr`: a float, or an optax schedule of the update count.

  linear: lr -> lr * lr_final over `num_updates` updates, then flat; cosine: lr * (lr_final +
  (1 - lr_final) * (1 + cos(pi * k / num_updates)) / 2) for update k <= num_updates.
  """
  name, final = option(t, "lr_schedule"), option(t, "lr_final")
  if name == "linear":
    return optax.linear_schedule(lr, lr * final, num_updates)
  if name == "cosine":
    return optax.cosine_decay_schedule(lr, num_updates, alpha=final)
  return lr


def _optimizer(t, lr: float, updates_per_step: int = 1) -> optax.GradientTransformation:
  """The optimizer of a network updated `updates_per_step` times per step (D: n_critic)."""
  lr = learning_rate(t, lr, t.num_steps * updates_per_step)
  if option(t, "optimizer") == "rmsprop":
    # WGAN (Arjovsky et al. 2017, Algorithm 1): RMSProp, no momentum (it destabilised the critic).
    return optax.rmsprop(lr)
  return optax.adam(lr, b1=t.b1, b2=t.b2)


def _penalties(t) -> tuple:
  penalties = []
  if option(t, "gp_weight") > 0:
    penalties.append(functools.partial(regularizers.gradient_penalty, weight=option(t, "gp_weight")))
  if option(t, "r1_gamma") > 0:
    penalties.append(functools.partial(regularizers.r1_penalty, gamma=option(t, "r1_gamma"),
                                       every=option(t, "r1_every")))
  return tuple(penalties)


def _gan_fields(config) -> dict:
  """The GAN fields shared by every task built on it (optimizers, losses, stabilisers)."""
  t, m = config.train, config.model
  d_loss, g_loss = losses.get_losses(t.loss)
  policy = augment.parse_policy(option(t, "augment"))
  return dict(
      latent_dim=m.latent_dim, g_optimizer=_optimizer(t, t.g_lr), d_optimizer=_optimizer(t, t.d_lr, t.n_critic),
      d_loss=d_loss, g_loss=g_loss, n_critic=t.n_critic, label_smoothing=t.label_smoothing,
      d_penalties=_penalties(t), d_clip=option(t, "clip"), ema_decay=option(t, "ema_decay"),
      augment=functools.partial(augment.diff_augment, policy=policy) if policy else None,
      pack=option(t, "pack"))


def make_gan(config, element_shape) -> GAN:
  """The GAN described by `config` for data examples of shape `element_shape`."""
  m = config.model
  generator, discriminator = MODELS[m.name](m, tuple(element_shape), _dtype(m.dtype))
  return GAN(
      generator=generator, discriminator=discriminator, **_gan_fields(config),
      num_classes=option(m, "num_classes"),
      acgan_weight=option(config.train, "acgan_weight") if option(m, "acgan") else 0.0,
      noise_rngs=m.name in NOISE_MODELS)


def make_bigan(config, element_shape) -> BiGAN:
  """BiGAN/ALI: G from config.model.name, encoder and joint D (x, z) from jgan.models.bigan."""
  m = config.model
  resolution, _ = _images_only("bigan", element_shape)
  generator, _ = MODELS[m.name](m, tuple(element_shape), _dtype(m.dtype))
  encoder = Encoder(resolution=resolution, latent_dim=m.latent_dim, width=m.d_width, max_mult=m.max_mult,
                    stochastic=option(m, "stochastic_encoder"), dtype=_dtype(m.dtype))
  discriminator = JointDiscriminator(resolution=resolution, width=m.d_width, max_mult=m.max_mult,
                                     hidden=m.d_hidden[0] if m.d_hidden else 512, dtype=_dtype(m.dtype))
  return BiGAN(generator=generator, discriminator=discriminator, encoder=encoder, **_gan_fields(config),
               noise_rngs=m.name in NOISE_MODELS)


TASKS["gan"] = make_gan
TASKS["bigan"] = make_bigan


def make_task(config, element_shape):
  """The task object named by `config.task` (default "gan"), after validating the config."""
  validate(config)
  name = config.get("task", "gan")
  if name not in TASKS:
    raise UserError(f"config.task={name!r}: choose one of {', '.join(sorted(TASKS))}")
  return TASKS[name](config, tuple(element_shape))


def check_labels(config, source) -> None:
  """Raises UserError when a class-conditional config meets data without (enough) labels.

  `source` is a jgan.data.sources.Source; its num_classes is 0 for unlabelled data.
  """
  num_classes = option(config.model, "num_classes")
  if not num_classes:
    return
  if not source.num_classes:
    raise UserError(f"config.model.num_classes={num_classes} needs labelled data, but {source.name} has no "
                    f"labels (use class subfolders, a labelled tfds dataset, or set config.model.num_classes=0)")
  if source.num_classes > num_classes:
    raise UserError(f"config.model.num_classes={num_classes} is less than the {source.num_classes} classes of "
                    f"{source.name}: set config.model.num_classes={source.num_classes}")


from jgan.tasks import repair as _repair_tasks  # noqa: E402,F401,I001  registers the "inpaint" and "superres" tasks
