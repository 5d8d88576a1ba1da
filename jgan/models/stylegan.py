"""A StyleGAN2-style generator and residual discriminator in plain JAX (Karras et al. 2019,
arXiv:1812.04948; 2020, arXiv:1912.04958). No custom kernels: modulation is done on
activations ("non-fused"), which is the same linear map as modulating the weights.

Generator: z (B, latent_dim) -> images (B, R, R, C) in [-1, 1], R = s * 2**k (s in 4..7:
32, 64, 128, and 28 for MNIST).
  mapping  z -> pixel-norm -> `mapping_layers` equalised-lr Dense+LeakyReLU (lr x0.01) -> w
  synthesis  a learned s x s constant; per resolution: nearest 2x upsample, two modulated/
    demodulated 3x3 convs each followed by per-pixel noise (learned per-channel strength),
    bias and LeakyReLU; a 1x1 modulated toRGB per resolution, summed with the upsampled
    lower-resolution RGB ("skip" architecture, StyleGAN2 fig. 7).
  style mixing (training, with rngs={"noise": key}): with probability `style_mixing`, the
    layers from a random crossover on take w of a second latent (StyleGAN sec. 3.1).
  truncation (inference): w <- w_avg + psi (w - w_avg), w_avg a running mean kept in the
    "batch_stats" collection during training (StyleGAN sec. 3.2).
Discriminator: images -> logits (B,). fromRGB, residual down blocks (two 3x3 convs and a 1x1
  skip, summed and scaled by 1/sqrt 2), then at s x s: minibatch standard deviation,
  a 3x3 conv, Dense, Dense -> 1. All layers use the equalised learning rate.
"""
from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jgan.models.layers import channels_at, minibatch_stddev, start_size
from jgan.models.resnet import avg_pool2, upsample_nearest

_SQRT2 = math.sqrt(2.0)


def lrelu(x):
  """LeakyReLU(0.2) with StyleGAN's gain sqrt(2), which keeps activations at unit variance."""
  return nn.leaky_relu(x, 0.2) * _SQRT2


class EqualDense(nn.Module):
  """Dense with the equalised learning rate: weights N(0, 1/lr_mul^2), scaled by lr_mul/sqrt(fan_in) at run time."""
  features: int
  bias_init: float = 0.0
  lr_mul: float = 1.0

  @nn.compact
  def __call__(self, x):
    w = self.param("kernel", nn.initializers.normal(1.0 / self.lr_mul), (x.shape[-1], self.features))
    b = self.param("bias", nn.initializers.constant(self.bias_init / self.lr_mul), (self.features,))
    return x @ (w * (self.lr_mul / math.sqrt(x.shape[-1]))) + b * self.lr_mul


class EqualConv(nn.Module):
  """k x k 'SAME' conv with the equalised learning rate."""
  features: int
  kernel_size: int = 3
  use_bias: bool = True

  @nn.compact
  def __call__(self, x):
    k = self.kernel_size
    w = self.param("kernel", nn.initializers.normal(1.0), (k, k, x.shape[-1], self.features))
    y = jax.lax.conv_general_dilated(x, w / math.sqrt(k * k * x.shape[-1]), (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,))
    return y


def modulated_conv(x: jax.Array, weight: jax.Array, style: jax.Array, demodulate: bool = True,
                   eps: float = 1e-8) -> jax.Array:
  """StyleGAN2's modulated convolution (sec. 2.2, eqs. 1-3), computed on activations.

  Per example b the kernel is w'_{kio} = s_{bi} w_{kio}, demodulated to
  w''_{kio} = w'_{kio} / sqrt(sum_{k,i} w'^2_{kio} + eps). Since the conv is linear,
  conv(x, w'') = d_{bo} * conv(x * s_b, w) with d_{bo} the demodulation factor, so
  one shared-weight conv serves the whole batch.

  Args:
    x: (B, H, W, I); weight: (k, k, I, O); style: (B, I).
  Returns:
    (B, H, W, O).
  """
  y = jax.lax.conv_general_dilated(x * style[:, None, None, :], weight, (1, 1), "SAME",
                                   dimension_numbers=("NHWC", "HWIO", "NHWC"))
  if demodulate:
    sq = jnp.sum(jnp.square(weight), axis=(0, 1))               # (I, O)
    y = y * jax.lax.rsqrt(jnp.square(style) @ sq + eps)[:, None, None, :]
  return y


class ModConv(nn.Module):
  """A style-modulated k x k conv with the equalised learning rate; style = affine(w), bias init 1."""
  features: int
  kernel_size: int = 3
  demodulate: bool = True

  @nn.compact
  def __call__(self, x, w):
    k, fan_in = self.kernel_size, self.kernel_size ** 2 * x.shape[-1]
    weight = self.param("kernel", nn.initializers.normal(1.0), (k, k, x.shape[-1], self.features))
    style = EqualDense(x.shape[-1], bias_init=1.0, name="affine")(w)
    if not self.demodulate:  # toRGB: StyleGAN2 scales the style by the weight gain instead
      style = style / math.sqrt(fan_in)
    y = modulated_conv(x, weight, style, self.demodulate)
    return y + self.param("bias", nn.initializers.zeros, (self.features,))


class StyleLayer(nn.Module):
  """ModConv -> per-pixel noise with learned per-channel strength -> LeakyReLU (bias is in ModConv)."""
  features: int

  @nn.compact
  def __call__(self, x, w):
    y = ModConv(self.features)(x, w)
    strength = self.param("noise_strength", nn.initializers.zeros, (self.features,))
    if self.has_rng("noise"):
      # Without a noise key (plain inference) the noise is 0, StyleGAN2's noise_mode='none'.
      y = y + jax.random.normal(self.make_rng("noise"), y.shape[:3] + (1,), y.dtype) * strength
    return lrelu(y)


class StyleGenerator(nn.Module):
  resolution: int = 32
  channels: int = 3
  width: int = 32
  max_mult: int = 8
  w_dim: int = 128
  mapping_layers: int = 4
  style_mixing: float = 0.9   # probability of mixing regularisation in training
  truncation: float = 1.0     # psi at inference; 1 = off
  w_avg_beta: float = 0.995
  dtype: Any = None           # unused: StyleGAN trains in float32 here

  def num_layers(self) -> int:
    return 1 + 2 * start_size(self.resolution)[1]

  @nn.nowrap
  def mapping(self, z):
    x = z * jax.lax.rsqrt(jnp.mean(jnp.square(z), axis=-1, keepdims=True) + 1e-8)  # pixel norm
    for i in range(self.mapping_layers):
      x = lrelu(EqualDense(self.w_dim, lr_mul=0.01, name=f"mapping_{i}")(x))
    return x

  @nn.compact
  def __call__(self, z, train: bool = True):
    size, k = start_size(self.resolution)
    num_layers = self.num_layers()
    mixing = train and self.style_mixing > 0 and self.has_rng("noise")
    if mixing:
      k_z, k_cut, k_use = jax.random.split(self.make_rng("noise"), 3)
      # One mapping pass over both latents (a Flax submodule is called once per name).
      both = self.mapping(jnp.concatenate([z, jax.random.normal(k_z, z.shape, z.dtype)]))
      w, w2 = both[:z.shape[0]], both[z.shape[0]:]
    else:
      w = self.mapping(z)                                             # (B, w_dim)
    w_avg = self.variable("batch_stats", "w_avg", jnp.zeros, (self.w_dim,))
    if train and not self.is_initializing():
      w_avg.value = self.w_avg_beta * w_avg.value + (1 - self.w_avg_beta) * jnp.mean(w, axis=0)
    ws = jnp.repeat(w[:, None, :], num_layers, axis=1)                # (B, L, w_dim)
    if mixing:
      cutoff = jax.random.randint(k_cut, (z.shape[0], 1, 1), 1, num_layers)
      mix = jax.random.uniform(k_use, (z.shape[0], 1, 1)) < self.style_mixing
      layer = jnp.arange(num_layers)[None, :, None]
      ws = jnp.where(mix & (layer >= cutoff), w2[:, None, :], ws)
    if not train and self.truncation != 1.0:
      ws = w_avg.value + self.truncation * (ws - w_avg.value)

    c = channels_at(self.width, k, self.max_mult)
    const = self.param("const", nn.initializers.normal(1.0), (size, size, c))
    x = jnp.broadcast_to(const, (z.shape[0], size, size, c))
    x = StyleLayer(c)(x, ws[:, 0])
    rgb = ModConv(self.channels, 1, demodulate=False)(x, ws[:, 0])
    for i, level in enumerate(reversed(range(k))):
      c = channels_at(self.width, level, self.max_mult)
      x = upsample_nearest(x)
      x = StyleLayer(c)(x, ws[:, 1 + 2 * i])
      x = StyleLayer(c)(x, ws[:, 2 + 2 * i])
      rgb = upsample_nearest(rgb) + ModConv(self.channels, 1, demodulate=False)(x, ws[:, 2 + 2 * i])
    return jnp.tanh(rgb)


class StyleDiscriminator(nn.Module):
  resolution: int = 32
  width: int = 32
  max_mult: int = 8
  mbstd_group: int = 4
  dtype: Any = None

  @nn.compact
  def __call__(self, x, train: bool = True):
    _, k = start_size(self.resolution)
    h = lrelu(EqualConv(channels_at(self.width, 0, self.max_mult), 1)(x))
    for level in range(k):
      c_out = channels_at(self.width, level + 1, self.max_mult)
      skip = EqualConv(c_out, 1, use_bias=False)(avg_pool2(h))
      h = lrelu(EqualConv(h.shape[-1], 3)(h))
      h = avg_pool2(lrelu(EqualConv(c_out, 3)(h)))
      h = (h + skip) / _SQRT2
    h = minibatch_stddev(h, self.mbstd_group)
    h = lrelu(EqualConv(h.shape[-1] - 1, 3)(h))
    h = lrelu(EqualDense(h.shape[-1])(h.reshape(h.shape[0], -1)))
    return EqualDense(1)(h)[:, 0]
