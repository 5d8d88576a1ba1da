"""Fully connected generator and discriminator: the 2014 GAN (Goodfellow et al.,
arXiv:1406.2661) and the usual networks for 2D toy data (PacGAN, arXiv:1712.04086).

The generator maps z (B, latent_dim) to (B, *output_shape); images end in tanh
(range [-1, 1]), points stay linear. The discriminator maps (B, *input_shape)
to logits (B,). The 2014 paper used maxout units in D; LeakyReLU(0.2) is the
common modern stand-in.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLPGenerator(nn.Module):
  output_shape: Sequence[int] = (28, 28, 1)
  hidden: Sequence[int] = (256, 512)
  tanh_output: bool = True
  dtype: Any = None

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    del train  # no batch statistics
    x = z.astype(self.dtype or z.dtype)
    for units in self.hidden:
      x = nn.relu(nn.Dense(units, dtype=self.dtype)(x))
    x = nn.Dense(math.prod(self.output_shape), dtype=self.dtype)(x).astype(jnp.float32)
    if self.tanh_output:
      x = jnp.tanh(x)
    return x.reshape(z.shape[0], *self.output_shape)


class MLPDiscriminator(nn.Module):
  hidden: Sequence[int] = (512, 256)
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    del train
    x = x.reshape(x.shape[0], -1).astype(self.dtype or x.dtype)
    for units in self.hidden:
      x = nn.leaky_relu(nn.Dense(units, dtype=self.dtype)(x), 0.2)
    return nn.Dense(1, dtype=self.dtype)(x)[:, 0].astype(jnp.float32)
