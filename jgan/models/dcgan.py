"""DCGAN generator and discriminator (Radford, Metz & Chintala 2016, arXiv:1511.06434).

Both work at any square resolution R = s * 2**k from 16 to 512 with a start size
s in 4..7: every power of two (s = 4), and 28 for MNIST (s = 7, 7 -> 14 -> 28)
without resizing the digits. Channel counts follow the
paper's pattern, `width * 2**i` capped at `width * max_mult`: at 64x64 with
width 64 this is exactly the pytorch/examples model (512-256-128-64).

Inputs and outputs: the generator maps z (B, latent_dim) to images
(B, R, R, channels) in [-1, 1]; the discriminator maps images to logits (B,).

Class-conditional (num_classes > 0), both take labels int (B,) after their input:
G reads [z, embed(y)] (the cGAN of Mirza & Osindero 2014, with a learned embedding);
D adds a projection term <embed(y), h> on its flattened last feature map h
(Miyato & Koyama 2018), or with acgan=True returns (logits, class_logits (B, K))
(Odena et al. 2017).

With dense_hidden = H > 0 both nets get one hidden dense layer: G maps z -> H -> the first
feature map, D maps its flattened last feature map -> H -> the logit (BatchNorm and the
nets' activations after it). This is the MNIST architecture of InfoGAN (Chen et al. 2016,
arXiv:1606.03657) that "Are GANs Created Equal?" (Lucic et al. 2018) uses for every GAN on
MNIST, H = 1024: the dense layers let the nets carve z into the digits' separate modes,
which the two convolutions alone at 28 px do poorly.

With minibatch_std_group = G > 0, D appends one feature map to its last convolution's output:
the standard deviation of the features over groups of G examples, averaged (ProGAN, Karras et al.
2018, sec. 3, a simplified minibatch discrimination): a batch of too-similar fakes is visible to D.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jgan.models.layers import (
  ClassConditionalHead,
  UpConv,
  batch_norm,
  channels_at,
  dcgan_init,
  label_conditioned_latent,
  minibatch_stddev,
  start_size,
)


class DCGANGenerator(nn.Module):
  """z (B, latent_dim) -> images (B, R, R, channels) in [-1, 1]."""
  resolution: int = 64
  channels: int = 3
  width: int = 64
  max_mult: int = 8
  num_classes: int = 0
  label_embed_dim: int = 0
  code_groups: int = 1   # > 1: labels carry this many independent num_classes-way codes (see code_digits)
  dense_hidden: int = 0  # > 0: a hidden dense layer of this size before the projection (see the module doc)
  dtype: Any = None  # computation dtype; parameters are always float32

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
    size, k = start_size(self.resolution)
    z = label_conditioned_latent(z, labels, self.num_classes, self.label_embed_dim or self.num_classes,
                                 groups=self.code_groups)
    x = z.astype(self.dtype or z.dtype)
    if self.dense_hidden:
      x = nn.Dense(self.dense_hidden, use_bias=False, kernel_init=dcgan_init, dtype=self.dtype)(x)
      x = nn.relu(batch_norm(train, self.dtype)(x))
    # The paper's first "project and reshape" layer (a 1x1 -> 4x4 transposed conv in
    # pytorch/examples) is exactly a dense layer to s*s*C units.
    c = channels_at(self.width, k - 1, self.max_mult)
    x = nn.Dense(size * size * c, use_bias=False, kernel_init=dcgan_init, dtype=self.dtype)(x)
    x = x.reshape(z.shape[0], size, size, c)
    x = nn.relu(batch_norm(train, self.dtype)(x))
    for level in reversed(range(k - 1)):
      x = UpConv(channels_at(self.width, level, self.max_mult), use_bias=False, dtype=self.dtype)(x)
      x = nn.relu(batch_norm(train, self.dtype)(x))
    # No biases anywhere, as in pytorch/examples: BatchNorm follows every hidden layer
    # and the output layer's bias would only shift tanh's input.
    x = UpConv(self.channels, use_bias=False, dtype=self.dtype)(x)
    return jnp.tanh(x.astype(jnp.float32))


class DCGANDiscriminator(nn.Module):
  """images (B, R, R, C) -> logits (B,). No BatchNorm on the first layer (paper, sec. 3)."""
  resolution: int = 64
  width: int = 64
  max_mult: int = 8
  use_batch_norm: bool = True  # WGAN-GP and friends turn this off
  num_classes: int = 0
  acgan: bool = False
  dense_hidden: int = 0  # > 0: a hidden dense layer of this size before the logit (see the module doc)
  minibatch_std_group: int = 0  # > 0: append the minibatch-stddev map over groups of this size (see the module doc)
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True):
    _, k = start_size(self.resolution)
    x = x.astype(self.dtype or x.dtype)
    for level in range(k):
      x = nn.Conv(channels_at(self.width, level, self.max_mult), (4, 4), strides=(2, 2),
                  padding=((1, 1), (1, 1)), use_bias=not self.use_batch_norm,
                  kernel_init=dcgan_init, dtype=self.dtype)(x)
      if level > 0 and self.use_batch_norm:
        x = batch_norm(train, self.dtype)(x)
      x = nn.leaky_relu(x, 0.2)
    if self.minibatch_std_group:
      x = minibatch_stddev(x, self.minibatch_std_group)
    x = x.reshape(x.shape[0], -1)
    if self.dense_hidden:
      x = nn.Dense(self.dense_hidden, use_bias=not self.use_batch_norm, kernel_init=dcgan_init, dtype=self.dtype)(x)
      if self.use_batch_norm:
        x = batch_norm(train, self.dtype)(x)
      x = nn.leaky_relu(x, 0.2)
    # The paper's last layer is a 4x4 'valid' conv to one channel: a dense layer on the flattened map.
    logits = nn.Dense(1, use_bias=not self.use_batch_norm, kernel_init=dcgan_init, dtype=self.dtype)(x)
    logits = logits[:, 0].astype(jnp.float32)
    if not self.num_classes:
      return logits
    # The class term reads the flat map, as the logit does: a digit's class is in its
    # layout, which spatial pooling after two convolutions loses (a pooled ACGAN head
    # reached 40% real-label accuracy in 300 steps). The projection embedding starts
    # at zero, so D starts as the unconditional DCGAN D; at DCGAN's N(0, 0.02) init
    # the flat projection overpowered G within 500 steps on MNIST (samples went blank).
    return ClassConditionalHead(self.num_classes, self.acgan, kernel_init=dcgan_init,
                                embedding_init=nn.initializers.zeros)(x.astype(jnp.float32), logits, labels)
