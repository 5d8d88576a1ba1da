"""Layers shared by the jgan models.

`UpConv` is the DCGAN transposed convolution (kernel 4, stride 2, padding 1 in
PyTorch terms: H -> 2H). It is written as the linear adjoint of a strided
convolution with a hand-written VJP, because XLA:CPU lowers the kernel gradient
of `flax.linen.ConvTranspose` to a slow lhs-dilated convolution; here every
gradient is a plain (strided) convolution. Measured on a 2-core CPU, one DCGAN
28x28 step at batch 64: 0.40 s with `nn.ConvTranspose`, 0.18 s with `UpConv`.
On GPUs both forms lower to cuDNN and the difference vanishes.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

# DCGAN paper (Radford et al. 2016, sec. 4): all weights from N(0, 0.02).
dcgan_init = nn.initializers.normal(stddev=0.02)

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def _strided_conv(y: jax.Array, kernel: jax.Array, stride: int, padding: int) -> jax.Array:
  """Plain strided convolution (B, sH, sW, Cout) -> (B, H, W, Cin); kernel (k, k, Cout, Cin)."""
  return lax.conv_general_dilated(
      y, kernel, window_strides=(stride, stride),
      padding=((padding, padding), (padding, padding)),
      dimension_numbers=_DIMENSIONS)


def _upsampled_shape(x_shape, kernel_shape, stride: int, padding: int):
  batch, height, width, _ = x_shape
  k = kernel_shape[0]
  # Inverts the strided conv's output size: out = (in + 2p - k) // s + 1.
  out_h = (height - 1) * stride + k - 2 * padding
  out_w = (width - 1) * stride + k - 2 * padding
  return (batch, out_h, out_w, kernel_shape[2])


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv_transpose(x: jax.Array, kernel: jax.Array, stride: int = 2, padding: int = 1) -> jax.Array:
  """Transposed convolution: the adjoint of `_strided_conv(., kernel)`.

  Args:
    x: (B, H, W, Cin).
    kernel: (k, k, Cout, Cin), the kernel of the strided conv this is the adjoint of.
    stride, padding: of that strided conv (PyTorch ConvTranspose2d semantics).
  Returns:
    (B, (H-1)*stride + k - 2*padding, ..., Cout); with k=4, s=2, p=1: (B, 2H, 2W, Cout).
  """
  out_shape = _upsampled_shape(x.shape, kernel.shape, stride, padding)
  zeros = jnp.zeros(out_shape, x.dtype)
  _, adjoint = jax.vjp(lambda y: _strided_conv(y, kernel, stride, padding), zeros)
  return adjoint(x)[0]


def _conv_transpose_fwd(x, kernel, stride, padding):
  return conv_transpose(x, kernel, stride, padding), (x, kernel)


def _conv_transpose_bwd(stride, padding, residuals, grad_out):
  x, kernel = residuals
  # y = C^T x  =>  dx = C dy (a strided conv), and since <dy, C_W^T x> = <C_W dy, x>,
  # dW is the kernel gradient of the strided conv applied to dy with cotangent x.
  grad_x = _strided_conv(grad_out, kernel, stride, padding)
  _, kernel_vjp = jax.vjp(lambda w: _strided_conv(grad_out, w, stride, padding), kernel)
  (grad_kernel,) = kernel_vjp(x)
  return grad_x, grad_kernel


conv_transpose.defvjp(_conv_transpose_fwd, _conv_transpose_bwd)


class UpConv(nn.Module):
  """Doubles the resolution: (B, H, W, Cin) -> (B, 2H, 2W, features)."""
  features: int
  use_bias: bool = True
  kernel_init: Callable[..., Any] = dcgan_init
  dtype: Any = None  # computation dtype (e.g. bfloat16); params stay float32.

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param("kernel", self.kernel_init, (4, 4, self.features, x.shape[-1]))
    dtype = self.dtype or x.dtype
    y = conv_transpose(x.astype(dtype), kernel.astype(dtype), 2, 1)
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(dtype)
    return y


class ClassConditionalHead(nn.Module):
  """The class-conditional part of a discriminator's output, shared by the DCGAN and ResNet D.

  h (B, F) pooled features, logits (B,) the unconditional score, labels int (B,) ->
    projection (Miyato & Koyama 2018, arXiv:1802.05637): logits + <embed(y), h>, (B,);
    acgan (Odena et al. 2017): (logits, class_logits (B, num_classes)).
  `wrap(layer)` returns the layer to call as wrapped(x) (spectral norm, or identity).
  """
  num_classes: int
  acgan: bool = False
  wrap: Callable[[nn.Module], Callable] = lambda layer: layer
  kernel_init: Callable = nn.initializers.xavier_uniform()   # ACGAN's class layer
  embedding_init: Callable = nn.initializers.xavier_uniform()  # the projection embedding

  @nn.compact
  def __call__(self, h: jax.Array, logits: jax.Array, labels: jax.Array | None):
    if self.acgan:
      return logits, self.wrap(nn.Dense(self.num_classes, kernel_init=self.kernel_init))(h)
    if labels is None:
      return logits
    embed = self.wrap(nn.Embed(self.num_classes, h.shape[-1], embedding_init=self.embedding_init))(labels)
    return logits + jnp.sum(embed * h, axis=-1)


def code_digits(labels: jax.Array, base: int, groups: int) -> jax.Array:
  """int (B,) in [0, base**groups) -> its `groups` base-`base` digits, int (B, groups), least significant first.

  A uniform label over base**groups values has independent uniform digits, so one label
  carries `groups` independent InfoGAN codes (e.g. Stacked MNIST's 3 channels x 10 digits).
  """
  return (labels[:, None] // base ** jnp.arange(groups, dtype=labels.dtype)) % base


def spread_codes(num: int, base: int, groups: int) -> jax.Array:
  """int (num,) labels in [0, base**groups) for showing a G with `groups` independent codes: sample i has
  digits e_g = (d_g + sum_{h<g} (g - h + 1) d_h) mod base of i's own digits d_h, a bijection of
  [0, base**groups).

  Counting up (labels 0, 1, 2, ...) would hold the high digits at 0 for the first base**(groups-1)
  samples (a 10x10 grid of Stacked MNIST would show one digit in its third channel); here e_0 = i mod base
  (column k of a base-column grid still holds code k of the first group), and every group's digit takes
  each value equally often in any base**2 consecutive samples from a multiple of base**2. Any
  base**groups consecutive samples from a multiple of base**groups hold every label once.
  """
  digits = code_digits(jnp.arange(num, dtype=jnp.int32), base, groups)
  # w[g, h] = g - h + 1 on and below the diagonal (1 on it: a triangular, hence invertible, map mod base).
  weights = jnp.tril(jnp.arange(groups)[:, None] - jnp.arange(groups)[None, :] + 1).astype(jnp.int32)
  spread = (digits @ weights.T) % base   # e_g = sum_h w[g, h] d_h
  return jnp.sum(spread * base ** jnp.arange(groups, dtype=jnp.int32), -1).astype(jnp.int32)


def label_conditioned_latent(z: jax.Array, labels: jax.Array | None, num_classes: int, embed_dim: int,
                             name: str = "label_embed", groups: int = 1) -> jax.Array:
  """[z, embed(labels)] (B, latent_dim + groups * embed_dim): the generator's label input of cGAN
  (Mirza & Osindero 2014), as a learned embedding (BigGAN's shared embedding). z unchanged when off.

  groups > 1: labels lie in [0, num_classes**groups) and each of their `groups` digits
  (`code_digits`) has its own embedding; the embeddings are concatenated, so G reads
  independent codes as separate inputs instead of one table entry per combination.
  Call inside a compact module: the embedding is created in the caller's scope under `name`.
  """
  if not (num_classes and embed_dim) or labels is None:
    return z
  if groups > 1:
    # One table of groups * num_classes rows: digit d of group g is row g * num_classes + d.
    rows = code_digits(labels, num_classes, groups) + num_classes * jnp.arange(groups, dtype=labels.dtype)
    embed = nn.Embed(groups * num_classes, embed_dim, name=name)(rows).reshape(labels.shape[0], -1)
  else:
    embed = nn.Embed(num_classes, embed_dim, name=name)(labels)
  return jnp.concatenate([z, embed.astype(z.dtype)], -1)


def start_size(resolution: int) -> tuple[int, int]:
  """(s, k) with resolution = s * 2**k, s in 4..7, 16 <= resolution <= 512; ValueError otherwise."""
  if not 16 <= resolution <= 512:
    raise ValueError(f"DCGAN resolution {resolution} is outside 16..512")
  size, k = resolution, 0
  while size > 7 and size % 2 == 0:
    size //= 2
    k += 1
  if size < 4 or size > 7 or k < 1:
    raise ValueError(
        f"DCGAN resolution {resolution} is not s*2^k with s in 4..7 "
        "(use a power of two from 16 to 256, or 28)")
  return size, k


def channels_at(width: int, level: int, max_mult: int) -> int:
  """Channels of a conv net's block `level` (0 = full resolution): width * min(2^level, max_mult)."""
  return width * min(2 ** level, max_mult)


def batch_norm(train: bool, dtype) -> nn.BatchNorm:
  # DCGAN init for BN: scale ~ N(1, 0.02), bias 0 (as pytorch/examples' weights_init).
  return nn.BatchNorm(
      use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=dtype,
      scale_init=lambda key, shape, dtype=jnp.float32: 1.0 + 0.02 * jax.random.normal(key, shape, dtype))


def minibatch_stddev(x: jax.Array, group_size: int = 4) -> jax.Array:
  """Appends one feature map: the std over groups of examples, averaged over features (ProGAN sec. 3).

  Example b belongs to group b % (B / G) (StyleGAN's strided grouping); G = min(group_size, B)
  must divide B. (B, H, W, C) -> (B, H, W, C + 1).
  """
  b, h, w, c = x.shape
  g = min(group_size, b)
  if b % g:
    raise ValueError(f"minibatch stddev: batch {b} is not a multiple of the group size {g}")
  # The group's members as G static slices, summed elementwise: XLA:CPU reduces over a short leading
  # axis about 10x slower than it adds slices (1.9 against 0.19 ms forward for (64, 7, 7, 64) on a
  # 2-core CPU), which made the main job's step 30% slower with the map on. jnp.var's values to float
  # rounding; in float32 for bfloat16 nets too, as jnp.var accumulated.
  members = list(x.astype(jnp.float32).reshape(g, b // g, h, w, c))
  mean = sum(members[1:], members[0]) / g
  var = sum(((m - mean) ** 2 for m in members[1:]), (members[0] - mean) ** 2)
  std = jnp.sqrt(var / g + 1e-8)                        # (B/G, H, W, C), biased variance over the group
  stat = jnp.mean(std, axis=(1, 2, 3))                 # (B/G,)
  stat = jnp.tile(stat, g)                             # example b -> group b % (B/G)
  return jnp.concatenate([x, jnp.broadcast_to(stat[:, None, None, None], (b, h, w, 1)).astype(x.dtype)], axis=-1)
