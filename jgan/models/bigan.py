"""BiGAN / ALI networks (Donahue et al. 2017, arXiv:1605.09782; Dumoulin et al. 2017,
arXiv:1606.00704): an encoder E: x -> z and a joint discriminator D(x, z).

Encoder: images (B, R, R, C) -> z (B, latent_dim). DCGAN-style strided convs
  (LeakyReLU, BatchNorm after the first) then a linear layer. `stochastic` (ALI):
  the last layer gives (mu, log sigma) and z = mu + sigma * eps (reparameterised,
  eps from the "noise" rng; z = mu without it).
Joint discriminator: (x, z) -> logits (B,). An x path (strided convs) and a z path
  (Dense layers) are concatenated and scored by an MLP. No BatchNorm, so real and
  fake pairs are scored independently; dropout is left out to keep D deterministic.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jgan.models.layers import batch_norm, channels_at, dcgan_init, start_size


def _conv_features(x, width: int, max_mult: int, resolution: int, train: bool, use_batch_norm: bool, dtype):
  _, k = start_size(resolution)
  for level in range(k):
    x = nn.Conv(channels_at(width, level, max_mult), (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)),
                kernel_init=dcgan_init, dtype=dtype)(x)
    if level > 0 and use_batch_norm:
      x = batch_norm(train, dtype)(x)
    x = nn.leaky_relu(x, 0.2)
  return x.reshape(x.shape[0], -1)


class Encoder(nn.Module):
  resolution: int = 28
  latent_dim: int = 64
  width: int = 32
  max_mult: int = 8
  stochastic: bool = False
  dtype: Any = None

  @nn.compact
  def __call__(self, x, train: bool = True):
    h = _conv_features(x.astype(self.dtype or x.dtype), self.width, self.max_mult, self.resolution, train, True,
                       self.dtype)
    if not self.stochastic:
      return nn.Dense(self.latent_dim, kernel_init=dcgan_init, dtype=self.dtype)(h).astype(jnp.float32)
    out = nn.Dense(2 * self.latent_dim, kernel_init=dcgan_init, dtype=self.dtype)(h).astype(jnp.float32)
    mu, log_sigma = out[:, :self.latent_dim], out[:, self.latent_dim:]
    if not self.has_rng("noise"):
      return mu
    return mu + jnp.exp(log_sigma) * jax.random.normal(self.make_rng("noise"), mu.shape)


class JointDiscriminator(nn.Module):
  resolution: int = 28
  width: int = 32
  max_mult: int = 8
  hidden: int = 512
  dtype: Any = None

  @nn.compact
  def __call__(self, x, z, train: bool = True):
    hx = _conv_features(x.astype(self.dtype or x.dtype), self.width, self.max_mult, self.resolution, train, False,
                        self.dtype)
    hz = nn.leaky_relu(nn.Dense(self.hidden, dtype=self.dtype)(z.astype(self.dtype or z.dtype)), 0.2)
    h = jnp.concatenate([hx, hz], axis=-1)
    h = nn.leaky_relu(nn.Dense(self.hidden, dtype=self.dtype)(h), 0.2)
    return nn.Dense(1, dtype=self.dtype)(h)[:, 0].astype(jnp.float32)
