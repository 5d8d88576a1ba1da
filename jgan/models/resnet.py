"""SNGAN-style ResNet generator and discriminator (Miyato et al. 2018, arXiv:1802.05957,
appendix B; the ResNet of Gulrajani et al. 2017), optionally class-conditional.

Resolutions R = s * 2**k with s in 4..7 as for DCGAN: 32 (4 -> 8 -> 16 -> 32), 64,
and 28 for MNIST (7 -> 14 -> 28). Channels at level l (0 = full resolution) are
width * min(2**l, max_mult): max_mult=1 gives SNGAN's constant-width CIFAR model.

Generator: z (B, latent_dim) [, labels (B,)] -> images (B, R, R, C) in [-1, 1].
  Up blocks: BN-ReLU-UpConv-BN-ReLU-Conv3x3, shortcut nearest-upsample + Conv1x1.
  The paper's nearest-upsample + 3x3 conv on the main path is a transposed 4x4
  conv here (`UpConv`, fast on CPU). Conditional: BatchNorm's scale and shift
  come from per-class embeddings (conditional BN, de Vries et al. 2017).
Discriminator: images [, labels] -> logits (B,), or (logits, class_logits (B, K))
  with an ACGAN head (Odena et al. 2017). Down blocks ReLU-Conv3x3-ReLU-Conv3x3-
  AvgPool; conditional: projection (Miyato & Koyama 2018, arXiv:1802.05637),
  logit += <embed(y), h>. `spectral_norm` wraps every layer in nn.SpectralNorm.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jgan.models.layers import ClassConditionalHead, UpConv, channels_at, label_conditioned_latent, start_size

_xavier = nn.initializers.xavier_uniform()


def upsample_nearest(x: jax.Array) -> jax.Array:
  """(B, H, W, C) -> (B, 2H, 2W, C), each pixel repeated 2x2."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def avg_pool2(x: jax.Array) -> jax.Array:
  """(B, H, W, C) -> (B, H/2, W/2, C) by 2x2 means (H, W odd: the last row/column is dropped)."""
  return nn.avg_pool(x, (2, 2), strides=(2, 2))


class ConditionalBatchNorm(nn.Module):
  """BatchNorm whose scale 1 + gamma[y] and shift beta[y] are per class; plain BN when labels is None."""
  num_classes: int = 0
  dtype: Any = None

  @nn.compact
  def __call__(self, x, labels, train: bool):
    conditional = self.num_classes > 0 and labels is not None
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, use_scale=not conditional,
                     use_bias=not conditional, dtype=self.dtype)(x)
    if not conditional:
      return x
    features = x.shape[-1]
    gamma = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.zeros, name="gamma")(labels)
    beta = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.zeros, name="beta")(labels)
    return x * (1.0 + gamma[:, None, None, :]).astype(x.dtype) + beta[:, None, None, :].astype(x.dtype)


class GBlock(nn.Module):
  features: int
  num_classes: int = 0
  dtype: Any = None

  @nn.compact
  def __call__(self, x, labels, train: bool):
    h = nn.relu(ConditionalBatchNorm(self.num_classes, self.dtype)(x, labels, train))
    h = UpConv(self.features, kernel_init=_xavier, dtype=self.dtype)(h)
    h = nn.relu(ConditionalBatchNorm(self.num_classes, self.dtype)(h, labels, train))
    h = nn.Conv(self.features, (3, 3), padding=1, kernel_init=_xavier, dtype=self.dtype)(h)
    skip = nn.Conv(self.features, (1, 1), kernel_init=_xavier, dtype=self.dtype)(upsample_nearest(x))
    return h + skip


class ResNetGenerator(nn.Module):
  resolution: int = 32
  channels: int = 3
  width: int = 64
  max_mult: int = 1
  num_classes: int = 0
  label_embed_dim: int = 0   # conditional: also feed [z, embed(y)] to the first layer (0: off)
  dtype: Any = None

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    size, k = start_size(self.resolution)
    c = channels_at(self.width, k, self.max_mult)
    # Conditional BN alone moves the class into G only through small scale/shift
    # changes that start at zero; the label next to z conditions G from the first step.
    z = label_conditioned_latent(z, labels, self.num_classes, self.label_embed_dim)
    x = nn.Dense(size * size * c, kernel_init=_xavier, dtype=self.dtype)(z.astype(self.dtype or z.dtype))
    x = x.reshape(z.shape[0], size, size, c)
    for level in reversed(range(k)):
      x = GBlock(channels_at(self.width, level, self.max_mult), self.num_classes, self.dtype)(x, labels, train)
    x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype)(x))
    x = nn.Conv(self.channels, (3, 3), padding=1, kernel_init=_xavier, dtype=self.dtype)(x)
    return jnp.tanh(x.astype(jnp.float32))


class _SN(nn.Module):
  """Calls `layer` under spectral normalisation when `use` (power iteration updated in training)."""
  layer: nn.Module
  use: bool = True

  @nn.compact
  def __call__(self, x, train: bool):
    if self.use:
      return nn.SpectralNorm(self.layer)(x, update_stats=train)
    return self.layer(x)


def _sn_call(layer: nn.Module, use: bool, train: bool):
  """`layer` as a one-argument callable, spectrally normalised when `use`."""
  return lambda x: _SN(layer, use)(x, train)


class DBlock(nn.Module):
  features: int
  down: bool = True
  first: bool = False  # the "optimized" first block: no ReLU on the input image
  spectral_norm: bool = True
  dtype: Any = None

  @nn.compact
  def __call__(self, x, train: bool):
    sn = self.spectral_norm
    conv = lambda f, k: nn.Conv(f, (k, k), padding=k // 2, kernel_init=_xavier, dtype=self.dtype)
    h = x if self.first else nn.relu(x)
    h = _SN(conv(self.features, 3), sn)(h, train)
    h = _SN(conv(self.features, 3), sn)(nn.relu(h), train)
    if self.down:
      h = avg_pool2(h)
    skip = x
    if self.first:
      skip = _SN(conv(self.features, 1), sn)(avg_pool2(x), train)
    elif self.down or x.shape[-1] != self.features:
      skip = _SN(conv(self.features, 1), sn)(x, train)
      skip = avg_pool2(skip) if self.down else skip
    return h + skip


class ResNetDiscriminator(nn.Module):
  resolution: int = 32
  width: int = 64
  max_mult: int = 1
  num_classes: int = 0
  acgan: bool = False      # also return class logits (B, num_classes)
  spectral_norm: bool = True
  dtype: Any = None

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True):
    _, k = start_size(self.resolution)
    sn = self.spectral_norm
    h = x.astype(self.dtype or x.dtype)
    for level in range(k):
      h = DBlock(channels_at(self.width, level, self.max_mult), first=level == 0, spectral_norm=sn,
                 dtype=self.dtype)(h, train)
    h = DBlock(h.shape[-1], down=False, spectral_norm=sn, dtype=self.dtype)(h, train)
    h = jnp.sum(nn.relu(h), axis=(1, 2)).astype(jnp.float32)  # global sum pooling, as in SNGAN
    logits = _SN(nn.Dense(1, kernel_init=_xavier), sn)(h, train)[:, 0]
    if not self.num_classes:
      return logits
    # SN on the projection embedding too, as in Miyato & Koyama's code.
    return ClassConditionalHead(self.num_classes, self.acgan, wrap=lambda layer: _sn_call(layer, sn, train))(
        h, logits, labels)
