"""`lenet-mnist`: a small digit classifier trained by jgan, shipped as package data.

A LeNet-style CNN (LeCun et al. 1998, with ReLU and max pooling):
conv 5x5x32 -> pool 2 -> conv 5x5x64 -> pool 2 -> dense 128 -> dense 10.
Inputs are uint8 (N, H, W, 1) digits, scaled to [-1, 1] and bilinearly
resized to 28x28 if needed. Outputs: the 128-d post-ReLU penultimate layer
("features", for FID/KID/precision-recall on MNIST-like data) and 10 class
logits (for the MNIST Inception Score, label accuracy, class KL and
Stacked-MNIST mode counting).

The weights (`lenet_mnist.npz`, ~0.7 MB float32) come from
`python -m experiments.train_lenet`, trained on 9,000 of the embedded
`mnist10k` digits; the 1,000 held out measure its accuracy, which the script
prints and records inside the file (`meta/*` entries).
"""
from __future__ import annotations

import importlib.resources

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jgan.core.errors import UserError
from jgan.features.weights import flatten  # noqa: F401  (re-exported: lenet.flatten)

INPUT_SIZE = 28
FEATURE_DIM = 128
NUM_CLASSES = 10
WEIGHTS_FILE = "lenet_mnist.npz"
RESIZE_METHOD = "bilinear-antialiased"


class LeNet(nn.Module):
  """float32 (N, 28, 28, 1) in [-1, 1] -> {"features": (N, 128), "logits": (N, 10)}."""

  @nn.compact
  def __call__(self, x):
    hp = jax.lax.Precision.HIGHEST  # features must not depend on the backend's default matmul precision
    x = nn.relu(nn.Conv(32, (5, 5), padding="VALID", precision=hp, name="conv1")(x))   # 24x24
    x = nn.max_pool(x, (2, 2), (2, 2))                                                  # 12x12
    x = nn.relu(nn.Conv(64, (5, 5), padding="VALID", precision=hp, name="conv2")(x))   # 8x8
    x = nn.max_pool(x, (2, 2), (2, 2))                                                  # 4x4
    x = x.reshape(x.shape[0], -1)
    features = nn.relu(nn.Dense(FEATURE_DIM, precision=hp, name="fc1")(x))
    logits = nn.Dense(NUM_CLASSES, precision=hp, name="fc2")(features)
    return {"features": features, "logits": logits}


def preprocess(images: jax.Array) -> jax.Array:
  """uint8 (N, H, W, 1) -> float32 (N, 28, 28, 1) in [-1, 1]."""
  x = images.astype(jnp.float32) * (2.0 / 255.0) - 1.0
  if x.shape[1:3] != (INPUT_SIZE, INPUT_SIZE):
    x = jax.image.resize(x, (x.shape[0], INPUT_SIZE, INPUT_SIZE, 1), "linear", antialias=True)
  return x


def apply(params, images: jax.Array) -> dict:
  return LeNet().apply({"params": params}, preprocess(images))


def packaged_weights_path():
  return importlib.resources.files("jgan.features").joinpath(WEIGHTS_FILE)


def load_params(path=None) -> tuple[dict, dict]:
  """(params, meta) from `path` or the packaged `lenet_mnist.npz`; meta holds the training record."""
  resource = packaged_weights_path() if path is None else None
  try:
    if resource is not None:
      with importlib.resources.as_file(resource) as file, np.load(file) as data:
        flat = {k: data[k] for k in data.files}
    else:
      with np.load(path) as data:
        flat = {k: data[k] for k in data.files}
  except FileNotFoundError:
    raise UserError(f"lenet-mnist weights {path or WEIGHTS_FILE} are missing: "
                    "run python -m experiments.train_lenet (or reinstall jgan)") from None
  except Exception as e:  # noqa: BLE001 - an object (pickled) array, a truncated or foreign file
    raise UserError(f"cannot read lenet-mnist weights {path or WEIGHTS_FILE}: "
                    f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
  params: dict = {}
  meta = {}
  for name, value in flat.items():
    if name.startswith("meta/"):
      meta[name[5:]] = value.item() if value.ndim == 0 else value.tolist()
      continue
    node = params
    parts = name.split("/")
    for part in parts[:-1]:
      node = node.setdefault(part, {})
    node[parts[-1]] = value
  return params, meta
