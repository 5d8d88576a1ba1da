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

import functools
import importlib.resources
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jgan.core.errors import UserError
from jgan.features.weights import flatten  # noqa: F401  (re-exported: lenet.flatten)

INPUT_SIZE = 28
FEATURE_DIM = 128
NUM_CLASSES = 10
WEIGHTS_FILE = "lenet_mnist.npz"
RESIZE_METHOD = "bilinear-antialiased"


class LeNet(nn.Module):
  """float32 (N, 28, 28, 1) in [-1, 1] -> {"features": (N, widths[2]), "logits": (N, 10)}.

  `widths`: channels of the two convs and size of the hidden dense layer; (32, 64, 128) is lenet-mnist,
  (6, 16, 84) the sizes of LeCun et al.'s LeNet-5 (about 20x fewer multiply-adds: the study's classifier).
  """
  widths: tuple[int, int, int] = (32, 64, FEATURE_DIM)

  @nn.compact
  def __call__(self, x):
    hp = jax.lax.Precision.HIGHEST  # features must not depend on the backend's default matmul precision
    c1, c2, hidden = self.widths
    x = nn.relu(nn.Conv(c1, (5, 5), padding="VALID", precision=hp, name="conv1")(x))   # 24x24
    x = nn.max_pool(x, (2, 2), (2, 2))                                                  # 12x12
    x = nn.relu(nn.Conv(c2, (5, 5), padding="VALID", precision=hp, name="conv2")(x))   # 8x8
    x = nn.max_pool(x, (2, 2), (2, 2))                                                  # 4x4
    x = x.reshape(x.shape[0], -1)
    features = nn.relu(nn.Dense(hidden, precision=hp, name="fc1")(x))
    logits = nn.Dense(NUM_CLASSES, precision=hp, name="fc2")(features)
    return {"features": features, "logits": logits}


def preprocess(images: jax.Array) -> jax.Array:
  """uint8 (N, H, W, 1) -> float32 (N, 28, 28, 1) in [-1, 1]."""
  x = images.astype(jnp.float32) * (2.0 / 255.0) - 1.0
  if x.shape[1:3] != (INPUT_SIZE, INPUT_SIZE):
    x = jax.image.resize(x, (x.shape[0], INPUT_SIZE, INPUT_SIZE, 1), "linear", antialias=True)
  return x


def apply(params, images: jax.Array) -> dict:
  """Any `LeNet`'s outputs for uint8 images (its widths are read off the params)."""
  widths = (params["conv1"]["kernel"].shape[-1], params["conv2"]["kernel"].shape[-1], params["fc1"]["kernel"].shape[-1])
  return LeNet(widths).apply({"params": params}, preprocess(images))


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


def shift(x, key, max_shift: int = 2):
  """Random translations of float (N, H, W, 1) images by up to `max_shift` pixels (padding = background -1)."""
  n, h, w, _ = x.shape
  padded = jnp.pad(x, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)), constant_values=-1.0)
  offsets = jax.random.randint(key, (n, 2), 0, 2 * max_shift + 1)
  return jax.vmap(lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, 1)))(padded, offsets)


@functools.lru_cache(maxsize=8)
def _fit_step(num_steps: int, learning_rate: float, widths: tuple[int, int, int]):
  """(optimizer, jitted step) for a schedule: one compiled step shared by every `fit` with these settings."""
  model = LeNet(widths)
  optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, num_steps))

  @jax.jit
  def step(params, opt_state, x, y, key):
    def loss_fn(p):
      logits = model.apply({"params": p}, shift(preprocess(x), key))["logits"]
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss
  return optimizer, step


def fit(images: np.ndarray, labels: np.ndarray, seed: int, num_steps: int, batch_size: int = 128,
        learning_rate: float = 2e-3, on_epoch: Callable[[int, float], None] | None = None,
        widths: tuple[int, int, int] = LeNet.widths) -> dict:
  """Trains a `LeNet` classifier from scratch; returns its params (the recipe of `experiments.train_lenet`).

  Adam with a cosine decay from `learning_rate` to 0 over `num_steps`, softmax cross-entropy, random shifts
  of up to 2 px; each epoch a fresh permutation (numpy, seeded), the last partial batch dropped (a set smaller
  than a batch is repeated to fill one).

  Args:
    images: uint8 (N, 28, 28, 1); labels: int (N,) in 0..9.
    on_epoch: called with (epoch, mean loss) after every full epoch.
    widths: the `LeNet` size (default: lenet-mnist's).
  """
  images, labels = np.asarray(images), np.asarray(labels, np.int32)
  if len(images) < batch_size:   # a few-label set: tile it so batches keep their size
    images, labels = np.resize(images, (batch_size, *images.shape[1:])), np.resize(labels, batch_size)
  key = jax.random.key(seed)
  params = LeNet(tuple(widths)).init(key, jnp.zeros((1, INPUT_SIZE, INPUT_SIZE, 1)))["params"]
  optimizer, step = _fit_step(num_steps, learning_rate, tuple(widths))
  opt_state = optimizer.init(params)

  order_rng = np.random.default_rng(seed)
  steps_per_epoch = len(images) // batch_size
  done, epoch = 0, 0
  while done < num_steps:
    order = order_rng.permutation(len(images))
    losses = []
    for i in range(min(steps_per_epoch, num_steps - done)):
      idx = order[i * batch_size:(i + 1) * batch_size]
      params, opt_state, loss = step(params, opt_state, images[idx], labels[idx], jax.random.fold_in(key, done))
      losses.append(loss)
      done += 1
    epoch += 1
    if on_epoch is not None and len(losses) == steps_per_epoch:
      on_epoch(epoch, float(np.mean(jax.device_get(losses))))
  return params


@jax.jit
def _predict(params, images):
  return jnp.argmax(apply(params, images)["logits"], axis=1)


def accuracy(params, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000) -> float:
  """Fraction of uint8 (N, 28, 28, 1) `images` whose argmax class equals `labels`."""
  predicted = np.concatenate([np.asarray(_predict(params, jnp.asarray(images[i:i + batch_size])))
                              for i in range(0, len(images), batch_size)])
  return float(np.mean(predicted == np.asarray(labels)))
