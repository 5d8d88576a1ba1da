"""An optional VGG19 feature extractor for SRGAN's perceptual loss, from a local weights file.

SRGAN's content loss (Ledig et al. 2017, arXiv:1609.04802, eq. 5) compares VGG19
feature maps (Simonyan & Zisserman 2015) of the super-resolved and the real
image. The ImageNet weights cannot be downloaded here, so this is opt-in:
`config.model.vgg_weights=PATH.npz` with, for each conv layer up to the one
used, arrays `convB_I/kernel` (3, 3, Cin, Cout; HWIO) and `convB_I/bias`
(Cout,), B the block (1..5) and I the layer in it. (A PyTorch torchvision
state dict converts by transposing each `features.N.weight` from OIHW to HWIO.)
Inputs are mapped from [-1, 1] to ImageNet-normalised RGB; grayscale is
repeated to three channels.
"""
from __future__ import annotations

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jgan.core.errors import UserError

# VGG19: convs per block and their widths; 2x2 max-pool after each block.
BLOCKS = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


def layer_names(last: str) -> list[str]:
  """["conv1_1", ..., last] in network order; UserError for a name VGG19 does not have."""
  names = [f"conv{b + 1}_{i + 1}" for b, (count, _) in enumerate(BLOCKS) for i in range(count)]
  if last not in names:
    raise UserError(f"config.model.vgg_layer={last!r}: choose one of {', '.join(names)}")
  return names[:names.index(last) + 1]


class VGGFeatures(nn.Module):
  """(B, H, W, 3) ImageNet-normalised RGB -> [(B, h, w, C)]: the ReLU output of layer `last`."""
  last: str = "conv2_2"

  @nn.compact
  def __call__(self, x: jax.Array) -> list[jax.Array]:
    names = layer_names(self.last)
    for name in names:
      block, index = (int(v) for v in name[4:].split("_"))
      x = nn.relu(nn.Conv(BLOCKS[block - 1][1], (3, 3), padding="SAME", name=name)(x))
      if name == names[-1]:
        break
      if index == BLOCKS[block - 1][0]:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    return [x]


def load_extractor(path: str, last: str, channels: int):
  """(apply_fn(params, images in [-1, 1]) -> [features], params) from the .npz at `path`."""
  path = os.path.expanduser(path)
  if not os.path.isfile(path):
    raise UserError(f"config.model.vgg_weights={path}: no such file (a .npz of VGG19 conv weights)")
  try:
    with np.load(path) as archive:
      arrays = {k: archive[k] for k in archive.files}
  except (OSError, ValueError) as e:
    raise UserError(f"cannot read VGG weights {path}: {e}") from None
  params = {}
  in_channels = 3
  for name in layer_names(last):
    block = int(name[4:].split("_")[0])
    width = BLOCKS[block - 1][1]
    kernel, bias = arrays.get(f"{name}/kernel"), arrays.get(f"{name}/bias")
    if kernel is None or bias is None:
      raise UserError(f"VGG weights {path} lack {name}/kernel or {name}/bias")
    if kernel.shape != (3, 3, in_channels, width) or bias.shape != (width,):
      raise UserError(f"VGG weights {path}: {name}/kernel has shape {kernel.shape}, expected "
                      f"{(3, 3, in_channels, width)} (HWIO)")
    params[name] = {"kernel": jnp.asarray(kernel, jnp.float32), "bias": jnp.asarray(bias, jnp.float32)}
    in_channels = width
  module = VGGFeatures(last=last)

  def apply_fn(vgg_params, images: jax.Array) -> list[jax.Array]:
    rgb = images if channels == 3 else jnp.repeat(images, 3, axis=-1)
    normalised = ((rgb + 1.0) * 0.5 - _MEAN) / _STD
    return module.apply({"params": vgg_params}, normalised)
  return apply_fn, params
