"""From `config.model` to a (generator, discriminator) pair of Flax modules.

Every architecture registers a `ModelSpec`: a builder fn(model_config,
element_shape, dtype) -> (G, D) and the `config.model` fields it reads, so a
field set for another architecture is refused instead of ignored
(`jgan.config.check_honoured`). Checks run here, before any compile, so a bad
value costs one line and no time.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax.numpy as jnp

from jgan.core.errors import UserError
from jgan.models.cyclegan import PatchGANDiscriminator, ResnetGenerator
from jgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jgan.models.layers import start_size
from jgan.models.mlp import MLPDiscriminator, MLPGenerator
from jgan.models.repair import InpaintGenerator, PatchDiscriminator, SRDiscriminator, SRResNet
from jgan.models.resnet import ResNetDiscriminator, ResNetGenerator
from jgan.models.stylegan import StyleDiscriminator, StyleGenerator

SR_SCALES = (2, 4, 8)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  build: Callable          # fn(model_config, element_shape, dtype) -> (generator, discriminator)
  fields: frozenset        # the "model.<name>" fields `build` reads
  conditional: bool = False   # takes labels (model.num_classes > 0)
  draws_noise: bool = False   # G draws its own randomness (StyleGAN): give it a "noise" key


def _check(condition: bool, message: str) -> None:
  if not condition:
    raise UserError(message)


def images_only(name: str, element_shape) -> tuple[int, int]:
  """(resolution, channels) of image data for model `name`; UserError for 2D points or a bad size."""
  if len(element_shape) != 3:
    raise UserError(f"model {name!r} needs images, but the data has shape {tuple(element_shape)}")
  try:
    start_size(element_shape[0])
  except ValueError as e:
    raise UserError(f"config.data.resolution: {e}") from None
  return element_shape[0], element_shape[2]


def compute_dtype(name: str):
  """config.model.dtype -> the modules' compute dtype (None = float32)."""
  if name not in ("float32", "bfloat16"):
    raise UserError(f"config.model.dtype={name!r}: use 'float32' or 'bfloat16'")
  return None if name == "float32" else jnp.bfloat16


def _class_fields(m) -> tuple[dict, dict]:
  """(G's, D's) class-conditioning fields of a conditional model (num_classes 0: unconditional).

  An InfoGAN code (info_codes K > 0) uses the same parts: G reads the code as a label (a
  learned K-wide embedding, i.e. the paper's one-hot through G's first dense layer), and D's
  ACGAN head is the paper's Q network, which predicts the code from D's last hidden layer.
  """
  if m.info_codes:
    # info_groups G > 1 independent codes: G embeds each digit of its label; Q predicts
    # G groups of K logits (one head, G * K wide, split by the loss).
    grouped = dict(code_groups=m.info_groups) if m.info_groups > 1 else {}
    return (dict(num_classes=m.info_codes, label_embed_dim=0, **grouped),
            dict(num_classes=m.info_codes * m.info_groups + m.info_continuous, acgan=True))
  return (dict(num_classes=m.num_classes, label_embed_dim=m.label_embed_dim),
          dict(num_classes=m.num_classes, acgan=m.acgan))


def _conditional_conv(name: str, generator, discriminator, d_options: Callable,
                      g_options: Callable = lambda m: {}) -> Callable:
  """The builder of a conv G/D pair that may be class-conditional; d_options(model_config) -> D's own fields,
  g_options(model_config) -> G's."""
  def build(m, element_shape, dtype):
    resolution, channels = images_only(name, element_shape)
    g_class, d_class = _class_fields(m)
    g = generator(resolution=resolution, channels=channels, width=m.g_width, max_mult=m.max_mult, dtype=dtype,
                  **g_class, **g_options(m))
    d = discriminator(resolution=resolution, width=m.d_width, max_mult=m.max_mult, dtype=dtype, **d_class,
                      **d_options(m))
    return g, d
  return build


def _dcgan_d_options(m) -> dict:
  _check(isinstance(m.minibatch_std, bool), f"config.model.minibatch_std={m.minibatch_std!r} must be True or False")
  return dict(use_batch_norm=m.d_batch_norm, dense_hidden=m.dense_hidden,
              minibatch_std_group=m.mbstd_group if m.minibatch_std else 0)


_dcgan = _conditional_conv("dcgan", DCGANGenerator, DCGANDiscriminator, _dcgan_d_options,
                           lambda m: dict(dense_hidden=m.dense_hidden))
_resnet = _conditional_conv("resnet", ResNetGenerator, ResNetDiscriminator,
                            lambda m: dict(spectral_norm=m.spectral_norm))


def _mlp(m, element_shape, dtype):
  g = MLPGenerator(output_shape=tuple(element_shape), hidden=tuple(m.g_hidden), tanh_output=len(element_shape) == 3,
                   dtype=dtype)
  return g, MLPDiscriminator(hidden=tuple(m.d_hidden), dtype=dtype)


def _stylegan(m, element_shape, dtype):
  resolution, channels = images_only("stylegan", element_shape)
  _check(dtype is None, "config.model.dtype: the stylegan model computes in float32 only: set it to 'float32'")
  for name in ("w_dim", "mapping_layers", "mbstd_group"):
    _check(isinstance(m[name], int) and m[name] > 0, f"config.model.{name}={m[name]!r} must be a positive integer")
  _check(0 <= m.style_mixing <= 1, f"config.model.style_mixing={m.style_mixing!r} must be in [0, 1]")
  g = StyleGenerator(resolution=resolution, channels=channels, width=m.g_width, max_mult=m.max_mult, w_dim=m.w_dim,
                     mapping_layers=m.mapping_layers, style_mixing=m.style_mixing, truncation=m.truncation)
  d = StyleDiscriminator(resolution=resolution, width=m.d_width, max_mult=m.max_mult, mbstd_group=m.mbstd_group)
  return g, d


def _gated_inpaint(m, element_shape, dtype):
  _check(len(element_shape) == 3, f"model 'gated_inpaint' needs images, but the data has shape {element_shape}")
  _check(element_shape[0] % 4 == 0 and element_shape[1] % 4 == 0,
         f"config.data.resolution={element_shape[0]}: the inpainting generator needs a multiple of 4")
  g = InpaintGenerator(channels=element_shape[-1], width=m.g_width, dilations=tuple(m.dilations), dtype=dtype)
  return g, PatchDiscriminator(width=m.d_width, dtype=dtype)


def _srresnet(m, element_shape, dtype):
  _check(len(element_shape) == 3, f"model 'srresnet' needs images, but the data has shape {element_shape}")
  _check(m.scale in SR_SCALES, f"config.model.scale={m.scale!r}: choose one of {', '.join(map(str, SR_SCALES))}")
  _check(element_shape[0] % m.scale == 0 and element_shape[1] % m.scale == 0,
         f"config.data.resolution={element_shape[0]} is not a multiple of config.model.scale={m.scale}")
  _check(isinstance(m.num_blocks, int) and m.num_blocks >= 0,
         f"config.model.num_blocks={m.num_blocks!r} must be an integer >= 0")
  g = SRResNet(channels=element_shape[-1], scale=m.scale, width=m.g_width, num_blocks=m.num_blocks,
               bicubic_skip=m.bicubic_skip, dtype=dtype)
  stages = max(1, min(3, (element_shape[0] // 4).bit_length() - 1))  # down to >= 4x4 before the dense layer
  return g, SRDiscriminator(width=m.d_width, num_stages=stages, dtype=dtype)


def _cyclegan(m, element_shape, dtype):
  """One generator and one PatchGAN (the CycleGAN task makes two of each, with their own parameters)."""
  _check(len(element_shape) == 3, f"model 'cyclegan' needs images, but the data has shape {element_shape}")
  _check(element_shape[0] % 4 == 0 and element_shape[1] % 4 == 0 and element_shape[0] >= 24,
         f"config.data.resolution={element_shape[0]}: the cyclegan model needs a multiple of 4, at least 24 "
         "(the PatchGAN's smallest input)")
  _check(isinstance(m.num_blocks, int) and m.num_blocks >= 0,
         f"config.model.num_blocks={m.num_blocks!r} must be an integer >= 0")
  for name in ("g_width", "d_width"):
    _check(isinstance(m[name], int) and m[name] > 0, f"config.model.{name}={m[name]!r} must be a positive integer")
  _check(isinstance(m.code_dim, int) and not isinstance(m.code_dim, bool) and m.code_dim >= 0,
         f"config.model.code_dim={m.code_dim!r} must be an integer >= 0 (0 = the paper's deterministic G)")
  _check(isinstance(m.input_skip, bool), f"config.model.input_skip={m.input_skip!r} must be True or False")
  g = ResnetGenerator(channels=element_shape[-1], width=m.g_width, num_blocks=m.num_blocks, code_dim=m.code_dim,
                      input_skip=m.input_skip, dtype=dtype)
  _check(isinstance(m.d_instance_norm, bool),
         f"config.model.d_instance_norm={m.d_instance_norm!r} must be True or False")
  return g, PatchGANDiscriminator(width=m.d_width, norm=m.d_instance_norm, dtype=dtype)


CONDITIONING_FIELDS = frozenset({"model.num_classes", "model.label_embed_dim", "model.acgan", "model.info_codes",
                                 "model.info_groups", "model.info_continuous"})
_CONV = frozenset({"model.g_width", "model.d_width", "model.max_mult"})

MODELS: dict[str, ModelSpec] = {
    "dcgan": ModelSpec(_dcgan, _CONV | CONDITIONING_FIELDS | {"model.d_batch_norm", "model.dense_hidden",
                                                              "model.minibatch_std", "model.mbstd_group"},
                       conditional=True),
    "mlp": ModelSpec(_mlp, frozenset({"model.g_hidden", "model.d_hidden"})),
    "resnet": ModelSpec(_resnet, _CONV | CONDITIONING_FIELDS | {"model.spectral_norm"}, conditional=True),
    "stylegan": ModelSpec(_stylegan, _CONV | {"model.w_dim", "model.mapping_layers", "model.style_mixing",
                                             "model.truncation", "model.mbstd_group"}, draws_noise=True),
    "gated_inpaint": ModelSpec(_gated_inpaint, frozenset({"model.g_width", "model.d_width", "model.dilations"})),
    "srresnet": ModelSpec(_srresnet, frozenset({"model.g_width", "model.d_width", "model.scale", "model.num_blocks",
                                                "model.bicubic_skip", "model.vgg_weights", "model.vgg_layer"})),
    "cyclegan": ModelSpec(_cyclegan, frozenset({"model.g_width", "model.d_width", "model.num_blocks",
                                                "model.d_instance_norm", "model.code_dim", "model.input_skip"})),
}


def spec(name: str) -> ModelSpec:
  if name not in MODELS:
    raise UserError(f"config.model.name={name!r}: choose one of {', '.join(sorted(MODELS))}")
  return MODELS[name]


def networks(model_config, element_shape) -> tuple:
  """(generator, discriminator) described by `model_config` for examples of shape `element_shape`."""
  return spec(model_config.name).build(model_config, tuple(element_shape), compute_dtype(model_config.dtype))
