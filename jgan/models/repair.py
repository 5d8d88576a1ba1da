"""Networks for image repair: a gated-convolution inpainter, SRResNet, and their critics.

All are plain Flax modules, fully convolutional where the task allows it (so a
model trained on 32x32 crops applies to any image size), and without
BatchNorm (no running statistics: the output for one image never depends on
the rest of the batch, which tiled inference relies on; EDSR, Lim et al. 2017,
also found SR better without it).

Shapes are NHWC, images in [-1, 1].
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class GatedConv(nn.Module):
  """Gated convolution (Yu et al. 2019, "Free-Form Image Inpainting with Gated Convolution", arXiv:1806.03589).

  y = ELU(conv_f(x)) * sigmoid(conv_g(x)): the gate is a learned, soft,
  per-pixel and per-channel validity mask, where partial convolutions (Liu et
  al. 2018, arXiv:1804.07723) use a hard rule that every channel shares.
  (B, H, W, Cin) -> (B, H/stride, W/stride, features).
  """
  features: int
  kernel: int = 3
  stride: int = 1
  dilation: int = 1
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    y = nn.Conv(2 * self.features, (self.kernel, self.kernel), strides=self.stride,
                kernel_dilation=self.dilation, padding="SAME", dtype=self.dtype)(x)
    value, gate = jnp.split(y, 2, axis=-1)
    return nn.elu(value) * nn.sigmoid(gate)


def _upsample2(x: jax.Array) -> jax.Array:
  """Nearest-neighbour x2; followed by a conv it avoids the checkerboard of strided transposed convs."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class InpaintGenerator(nn.Module):
  """Encoder-decoder of gated convolutions with a dilated bottleneck.

  The encoder halves the resolution twice; dilated gated convs at H/4 widen the
  receptive field so a hole's centre sees context across the whole image (the
  role of the channel-wise fully-connected layer of context encoders, Pathak
  et al. 2016, arXiv:1604.07379, and of the dilated convs of Iizuka et al.
  2017); the decoder upsamples with U-Net skips from the encoder.

  __call__(image (B, H, W, C) in [-1, 1], mask (B, H, W, 1) with 1 = hole) ->
  raw output (B, H, W, C) in [-1, 1]. H and W must be multiples of 4. Pixels of
  `image` inside the hole are ignored (zeroed here), so the caller may pass the
  damaged image as it is. The raw output must still be composited with the
  input (see `jgan.tasks.repair.composite`).
  """
  channels: int
  width: int = 32
  dilations: Sequence[int] = (2, 4)
  dtype: Any = None

  @nn.compact
  def __call__(self, image: jax.Array, mask: jax.Array, train: bool = False) -> jax.Array:
    del train  # no dropout, no BatchNorm
    if image.shape[1] % 4 or image.shape[2] % 4:
      raise ValueError(f"InpaintGenerator needs H and W divisible by 4, got {image.shape[1:3]}")
    w = self.width
    x = jnp.concatenate([image * (1.0 - mask), mask], axis=-1)
    e1 = GatedConv(w, 5, dtype=self.dtype)(x)                          # H
    e2 = GatedConv(2 * w, 3, stride=2, dtype=self.dtype)(e1)           # H/2
    e2 = GatedConv(2 * w, 3, dtype=self.dtype)(e2)
    h = GatedConv(4 * w, 3, stride=2, dtype=self.dtype)(e2)            # H/4
    for rate in self.dilations:
      h = GatedConv(4 * w, 3, dilation=rate, dtype=self.dtype)(h)
    h = GatedConv(4 * w, 3, dtype=self.dtype)(h)
    h = GatedConv(2 * w, 3, dtype=self.dtype)(jnp.concatenate([_upsample2(h), e2], -1))   # H/2
    h = GatedConv(w, 3, dtype=self.dtype)(jnp.concatenate([_upsample2(h), e1], -1))       # H
    h = GatedConv(w // 2 if w >= 16 else w, 3, dtype=self.dtype)(h)
    out = nn.Conv(self.channels, (3, 3), padding="SAME", dtype=self.dtype)(h)
    return jnp.tanh(out.astype(jnp.float32))


class PatchDiscriminator(nn.Module):
  """PatchGAN critic (Isola et al. 2017; SN-PatchGAN of Yu et al. 2019 without the spectral norm).

  __call__(image (B, H, W, C), mask (B, H, W, 1)) -> logits (B, ceil(H/8), ceil(W/8), 1): one
  real/fake score per overlapping patch, so the holes, wherever they are, are
  judged locally and the adversarial loss is a mean over patches. The mask is
  an input, as in Yu et al., so D knows where to look.
  """
  width: int = 32
  dtype: Any = None

  @nn.compact
  def __call__(self, image: jax.Array, mask: jax.Array, train: bool = False) -> jax.Array:
    del train
    h = jnp.concatenate([image, mask], axis=-1)
    for mult in (1, 2, 4):
      h = nn.Conv(self.width * mult, (4, 4), strides=2, padding="SAME", dtype=self.dtype)(h)
      h = nn.leaky_relu(h, 0.2)
    return nn.Conv(1, (3, 3), padding="SAME", dtype=self.dtype)(h).astype(jnp.float32)


def pixel_shuffle(x: jax.Array, factor: int) -> jax.Array:
  """Sub-pixel rearrangement (Shi et al. 2016, arXiv:1609.05158): (B, h, w, C*r*r) -> (B, h*r, w*r, C).

  Channel c*r*r + i*r + j of input pixel (y, x) becomes output pixel (y*r+i, x*r+j), channel c.
  """
  batch, height, width, depth = x.shape
  channels = depth // (factor * factor)
  x = x.reshape(batch, height, width, channels, factor, factor)
  x = x.transpose(0, 1, 4, 2, 5, 3)
  return x.reshape(batch, height * factor, width * factor, channels)


def bicubic_upscale(x: jax.Array, scale: int) -> jax.Array:
  """(B, h, w, C) -> (B, scale*h, scale*w, C), bicubic (Keys a=-0.5, as jax.image.resize)."""
  batch, height, width, channels = x.shape
  return jax.image.resize(x, (batch, height * scale, width * scale, channels), "bicubic")


class SRResNet(nn.Module):
  """SRResNet generator (Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a GAN",
  arXiv:1609.04802, fig. 4), without BatchNorm.

  conv9 -> PReLU -> `num_blocks` x [conv3, PReLU, conv3, + skip] -> conv3 + long skip ->
  log2(scale) x [conv3 to 4F channels, pixel shuffle x2 (Shi et al. 2016), PReLU] -> conv9.
  With `bicubic_skip` the network predicts the residual over bicubic upscaling
  (as VDSR, Kim et al. 2016): the same function class, but a few hundred CPU
  steps already beat bicubic because the network starts from it.

  __call__(low-res (B, h, w, C) in [-1, 1]) -> (B, scale*h, scale*w, C), not clipped.
  """
  channels: int
  scale: int = 4
  width: int = 64
  num_blocks: int = 8
  bicubic_skip: bool = True
  dtype: Any = None

  @property
  def receptive_radius(self) -> int:
    """Low-res pixels each side that one output pixel depends on (an upper bound).

    conv9 (4) + 2 per block + long-skip conv (1) + one conv3 per upsampling stage
    (<= 1 low-res pixel each) + the final conv9 at full resolution (4 / scale,
    rounded up) + bicubic taps (2).
    """
    stages = self.scale.bit_length() - 1
    return 4 + 2 * self.num_blocks + 1 + stages + -(-4 // self.scale) + 2

  @nn.compact
  def __call__(self, low: jax.Array, train: bool = False) -> jax.Array:
    del train
    f = self.width
    conv = lambda features, k: nn.Conv(features, (k, k), padding="SAME", dtype=self.dtype)
    head = nn.PReLU(param_dtype=jnp.float32)(conv(f, 9)(low))
    h = head
    for _ in range(self.num_blocks):
      r = nn.PReLU(param_dtype=jnp.float32)(conv(f, 3)(h))
      h = h + conv(f, 3)(r)
    h = conv(f, 3)(h) + head
    for _ in range(self.scale.bit_length() - 1):
      h = nn.PReLU(param_dtype=jnp.float32)(pixel_shuffle(conv(4 * f, 3)(h), 2))
    out = conv(self.channels, 9)(h).astype(jnp.float32)
    if self.bicubic_skip:
      out = out + bicubic_upscale(low.astype(jnp.float32), self.scale)
    return out


class SRDiscriminator(nn.Module):
  """The SRGAN critic (Ledig et al. 2017, fig. 4), narrowed and without BatchNorm.

  Pairs of conv3 (stride 1, then 2) with widths w, 2w, 4w, ..., LeakyReLU(0.2),
  then a dense layer to one logit.
  __call__(image (B, H, W, C)) -> (logits (B, 1), features): `features` is the
  list of the activations after each stride-2 conv, the inputs of the
  feature-matching perceptual term (Salimans et al. 2016 sec. 3.1, used here
  paired: || D_l(SR) - D_l(HR) ||), which stands in for SRGAN's VGG loss when no
  VGG weights are at hand.
  """
  width: int = 32
  num_stages: int = 3
  dtype: Any = None

  @nn.compact
  def __call__(self, image: jax.Array, train: bool = False):
    del train
    h = image
    features = []
    for stage in range(self.num_stages):
      features_count = self.width * 2 ** stage
      h = nn.leaky_relu(nn.Conv(features_count, (3, 3), padding="SAME", dtype=self.dtype)(h), 0.2)
      h = nn.leaky_relu(nn.Conv(features_count, (3, 3), strides=2, padding="SAME", dtype=self.dtype)(h), 0.2)
      features.append(h.astype(jnp.float32))
    h = h.reshape(h.shape[0], -1)
    h = nn.leaky_relu(nn.Dense(4 * self.width, dtype=self.dtype)(h), 0.2)
    return nn.Dense(1, dtype=self.dtype)(h).astype(jnp.float32), features
