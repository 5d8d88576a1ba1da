"""CycleGAN's networks (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", arXiv:1703.10593, appendix 7.2), in Flax.

Generator (after Johnson et al. 2016): c7s1-k, d2k, d4k, N x R4k, u2k, uk, c7s1-C, where c7s1-k is
a 7x7 stride-1 conv with k filters, dk a 3x3 stride-2 conv, Rk a residual block of two 3x3 convs,
uk a 3x3 stride-1/2 (fractional-strided) conv; instance norm and ReLU after every conv but the
last, which ends in tanh; reflection padding at the 7x7 and residual convs. The paper uses k = 64
and N = 6 blocks for 128x128 images, 9 for 256x256 and above. Fully convolutional: any H, W that
are multiples of 4.

Discriminator: the 70x70 PatchGAN: C64-C128-C256-C512 then a conv to one channel, Ck = 4x4 conv,
instance norm (not on C64), LeakyReLU 0.2; C64-C256 have stride 2, C512 and the last conv stride 1
(as the authors' implementation), padding 1 everywhere. Each output logit sees a 70x70 input patch
(`receptive_field(PATCH_LAYERS)`).

`PatchGANDiscriminator(norm=False)` drops its instance norms (config.model.d_instance_norm=False). Instance
norm removes each feature map's per-image mean and scale: with zero biases (conv and LeakyReLU are positively
homogeneous) D's output is exactly the same for x and 2x, so it judges patterns, not their strength; at
32 px the maps it normalises are only 8x8, 4x4 and 3x3 pixels.

Instance norm here has no learned scale or shift (PyTorch's InstanceNorm2d default, which the
authors' code uses) and is computed in float32 whatever the compute dtype. NHWC, images in [-1, 1].
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# (channel multiplier of d_width, kernel, stride, instance norm) of the PatchGAN's conv layers;
# the last entry is the one-channel output conv (multiplier 0).
PATCH_LAYERS: tuple[tuple[int, int, int, bool], ...] = (
    (1, 4, 2, False), (2, 4, 2, True), (4, 4, 2, True), (8, 4, 1, True), (0, 4, 1, False))


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
  """Input pixels (per side) one output unit sees through conv layers given as (kernel, stride), input first."""
  field = 1
  for kernel, stride in reversed(list(layers)):
    field = (field - 1) * stride + kernel
  return field


def paper_num_blocks(resolution: int) -> int:
  """Residual blocks of the paper's generator: 6 for images up to 128 px, 9 above."""
  return 6 if resolution <= 128 else 9


def instance_norm(x: jax.Array, eps: float = 1e-5) -> jax.Array:
  """Per example and channel: zero mean, unit variance over H and W (computed in float32)."""
  dtype = x.dtype
  x = x.astype(jnp.float32)
  mean = jnp.mean(x, axis=(1, 2), keepdims=True)
  var = jnp.mean(jnp.square(x - mean), axis=(1, 2), keepdims=True)
  return ((x - mean) * jax.lax.rsqrt(var + eps)).astype(dtype)


class InstanceNorm(nn.Module):
  """`instance_norm` as a parameterless module, so that tiled inference (`jgan.infer.translate`) can run
  a tile with the statistics of the whole image. Two optional collections, both absent in training:

    norm_stats  (read)  {"mean", "var"}: float32, broadcastable to the input (e.g. (1, 1, 1, C)), used
                        instead of the input's own per-example statistics;
    norm_inputs (sown)  the float32 input (B, H, W, C), when the collection is mutable, so a caller can
                        accumulate statistics over many tiles.
  Without them it is exactly `instance_norm`; it adds no parameters, so parameter trees are unchanged."""
  eps: float = 1e-5

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if not self.is_initializing():   # init makes every collection mutable: keep activations out of it
      self.sow("norm_inputs", "x", x.astype(jnp.float32))   # a no-op unless the collection is mutable
    if not self.has_variable("norm_stats", "mean"):
      return instance_norm(x, self.eps)
    mean, var = self.get_variable("norm_stats", "mean"), self.get_variable("norm_stats", "var")
    return ((x.astype(jnp.float32) - mean) * jax.lax.rsqrt(var + self.eps)).astype(x.dtype)


def reflect_pad(x: jax.Array, pad: int) -> jax.Array:
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


def modulate(h: jax.Array, code: jax.Array | None, dtype=None) -> jax.Array:
  """h (B, H, W, C) after an instance norm, scaled and shifted per example and channel by the code (B, k):
  h * (1 + gamma(code)) + beta(code), gamma and beta one dense layer (adaptive instance norm, Huang and
  Belongie 2017, as MUNIT's decoder, Huang et al. 2018). A constant input channel would not do: the
  instance norm after the first conv removes every spatially constant signal. No code: h unchanged.
  Call it inside a compact module (the dense layer is the caller's)."""
  if code is None:
    return h
  gamma_beta = nn.Dense(2 * h.shape[-1], dtype=dtype)(code).astype(h.dtype)[:, None, None, :]
  gamma, beta = jnp.split(gamma_beta, 2, axis=-1)
  return h * (1 + gamma) + beta


class ResidualBlock(nn.Module):
  """R_k: reflect-pad, 3x3 conv, IN, ReLU, reflect-pad, 3x3 conv, IN, plus the input (with a code: each IN
  modulated, `modulate`)."""
  features: int
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, code: jax.Array | None = None) -> jax.Array:
    h = nn.Conv(self.features, (3, 3), padding="VALID", dtype=self.dtype)(reflect_pad(x, 1))
    h = nn.relu(modulate(InstanceNorm()(h), code, self.dtype))
    h = nn.Conv(self.features, (3, 3), padding="VALID", dtype=self.dtype)(reflect_pad(h, 1))
    return x + modulate(InstanceNorm()(h), code, self.dtype)


class ResnetGenerator(nn.Module):
  """The CycleGAN generator. __call__(images (B, H, W, C_in)) -> (B, H, W, channels) in [-1, 1].

  code_dim > 0 (not in the paper; `jgan.tasks.cyclegan` explains the use): the generator also takes a code
  (B, code_dim), which scales and shifts every instance norm of the residual blocks and the upsampling
  layers (`modulate`), and also returns one, read from the bottleneck (mean over positions, a dense layer,
  tanh) in [-1, 1]: __call__(images, code) -> (images, code). A missing input code counts as zeros.

  input_skip (not in the paper): the input image is concatenated to the last conv's input. The instance
  norm after the first conv removes each feature's mean and scale over the image, and the first conv is
  linear in the pixels, so the paper's G cannot know an image's mean colour or contrast: it can only invent
  them. With the skip the output layer sees them again (the style task needs it: its answer keeps each
  photo's colours).
  """
  channels: int
  width: int = 64
  num_blocks: int = 6
  code_dim: int = 0
  input_skip: bool = False
  dtype: Any = None

  @property
  def receptive_radius(self) -> int:
    """Input pixels on each side that one output pixel depends on, its instance-norm statistics held fixed
    (`InstanceNorm`), rounded up to a multiple of 4: the 7x7 convs 3 each, d2k 1, d4k 2, each 3x3 conv of a
    residual block 4 (at 1/4 scale), u2k 4, uk 2. tests/test_cyclegan.py checks it is enough."""
    radius = 3 + 1 + 2 + 8 * self.num_blocks + 4 + 2 + 3
    return -(-radius // 4) * 4

  @nn.compact
  def __call__(self, x: jax.Array, code: jax.Array | None = None, train: bool = False):
    del train  # no dropout, no running statistics
    if x.shape[1] % 4 or x.shape[2] % 4:
      raise ValueError(f"ResnetGenerator needs H and W divisible by 4, got {x.shape[1:3]}")
    if self.code_dim:
      code = jnp.zeros((x.shape[0], self.code_dim), jnp.float32) if code is None else code.astype(jnp.float32)
    elif code is not None:
      raise ValueError("this ResnetGenerator has code_dim=0 and takes no code")
    k = self.width
    h = nn.Conv(k, (7, 7), padding="VALID", dtype=self.dtype)(reflect_pad(x, 3))                # c7s1-k
    h = nn.relu(InstanceNorm()(h))
    for mult in (2, 4):                                                                          # d2k, d4k
      h = nn.Conv(k * mult, (3, 3), strides=2, padding=((1, 1), (1, 1)), dtype=self.dtype)(h)
      h = nn.relu(InstanceNorm()(h))
    if self.code_dim:   # read before the code acts, so F's code says what it saw
      code_out = jnp.tanh(nn.Dense(self.code_dim, dtype=self.dtype)(jnp.mean(h, axis=(1, 2))).astype(jnp.float32))
    for _ in range(self.num_blocks):                                                             # R4k
      h = ResidualBlock(4 * k, dtype=self.dtype)(h, code)
    for mult in (2, 1):                                                                          # u2k, uk
      h = nn.ConvTranspose(k * mult, (3, 3), strides=(2, 2), padding="SAME", dtype=self.dtype)(h)
      h = nn.relu(modulate(InstanceNorm()(h), code, self.dtype))
    if self.input_skip:   # what the first instance norm erased (the image's mean colour, contrast) returns
      h = jnp.concatenate([h, x.astype(h.dtype)], axis=-1)
    h = nn.Conv(self.channels, (7, 7), padding="VALID", dtype=self.dtype)(reflect_pad(h, 3))    # c7s1-C
    image = jnp.tanh(h.astype(jnp.float32))
    return (image, code_out) if self.code_dim else image


class PatchGANDiscriminator(nn.Module):
  """The 70x70 PatchGAN. __call__(images (B, H, W, C)) -> logits (B, h, w, 1), one per 70x70 patch
  (h = H/8 - 2 for H a multiple of 8; at least 1 for H >= 24). norm=False: no instance norm anywhere."""
  width: int = 64
  norm: bool = True
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    del train
    h = x
    for i, (mult, kernel, stride, norm) in enumerate(PATCH_LAYERS):
      last = i == len(PATCH_LAYERS) - 1
      h = nn.Conv(1 if last else self.width * mult, (kernel, kernel), strides=stride, padding=((1, 1), (1, 1)),
                  dtype=self.dtype)(h)
      if not last:
        h = nn.leaky_relu(instance_norm(h) if norm and self.norm else h, 0.2)
    return h.astype(jnp.float32)
