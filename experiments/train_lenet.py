"""Train the `lenet-mnist` feature extractor on the embedded digits.

    python -m experiments.train_lenet [--out=jgan/features/lenet_mnist.npz] [--epochs=8] [--seed=0]

Splits the 10,000 embedded `mnist10k` digits into 9,000 for training and
1,000 held out (a seeded permutation), trains the LeNet of
`jgan.features.lenet` with Adam and small random shifts (so features stay
sensible on slightly off-centre generated digits), prints the held-out
accuracy and writes the weights, with the accuracy and split recorded as
`meta/*` entries, to `--out` (atomically). The packaged file was written by
this script with its defaults.
"""
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import flags

from jgan.core import cli
from jgan.data.embedded import embedded_sha256, load_embedded_arrays
from jgan.features import lenet

_OUT = flags.DEFINE_string("out", "jgan/features/lenet_mnist.npz", "Where to write the weights (.npz).")
_EPOCHS = flags.DEFINE_integer("epochs", 8, "Passes over the 9,000 training digits.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the split, the initialisation and the batches.")
_HELD_OUT = 1000
_BATCH = 128


def split(seed: int):
  images, labels = load_embedded_arrays()
  order = np.random.default_rng(seed).permutation(len(images))
  test, train = order[:_HELD_OUT], order[_HELD_OUT:]
  images = images[..., None]
  return (images[train], labels[train].astype(np.int32)), (images[test], labels[test].astype(np.int32))


def shift(x, key, max_shift: int = 2):
  """Random translations by up to `max_shift` pixels (zero padding = background)."""
  n, h, w, _ = x.shape
  padded = jnp.pad(x, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)), constant_values=-1.0)
  offsets = jax.random.randint(key, (n, 2), 0, 2 * max_shift + 1)
  return jax.vmap(lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, 1)))(padded, offsets)


def train(seed: int, epochs: int):
  (x_train, y_train), (x_test, y_test) = split(seed)
  model = lenet.LeNet()
  key = jax.random.key(seed)
  params = model.init(key, jnp.zeros((1, 28, 28, 1)))["params"]
  steps_per_epoch = len(x_train) // _BATCH
  schedule = optax.cosine_decay_schedule(2e-3, epochs * steps_per_epoch)
  optimizer = optax.adam(schedule)
  opt_state = optimizer.init(params)

  @jax.jit
  def step(params, opt_state, x, y, key):
    def loss_fn(p):
      logits = model.apply({"params": p}, shift(lenet.preprocess(x), key))["logits"]
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  rng = np.random.default_rng(seed)
  for epoch in range(epochs):
    order = rng.permutation(len(x_train))
    losses = []
    for i in range(steps_per_epoch):
      idx = order[i * _BATCH:(i + 1) * _BATCH]
      params, opt_state, loss = step(params, opt_state, x_train[idx], y_train[idx],
                                     jax.random.fold_in(key, epoch * steps_per_epoch + i))
      losses.append(loss)
    print(f"epoch {epoch + 1}/{epochs} loss {float(np.mean(jax.device_get(losses))):.4f}", flush=True)
  predicted = np.argmax(np.asarray(lenet.apply(params, jnp.asarray(x_test))["logits"]), axis=1)
  accuracy = float(np.mean(predicted == y_test))
  return params, accuracy


def main(argv):
  del argv
  start = time.time()
  params, accuracy = train(_SEED.value, _EPOCHS.value)
  flat = lenet.flatten(jax.device_get(params))
  flat = {k: np.asarray(v, np.float32) for k, v in flat.items()}
  meta = {"meta/held_out_accuracy": np.float64(accuracy), "meta/held_out": np.int64(_HELD_OUT),
          "meta/train_examples": np.int64(10000 - _HELD_OUT), "meta/seed": np.int64(_SEED.value),
          "meta/epochs": np.int64(_EPOCHS.value), "meta/data_sha256": np.array(embedded_sha256())}
  out = _OUT.value
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  tmp = f"{out}.tmp.npz"
  np.savez(tmp, **flat, **meta)
  os.replace(tmp, out)
  print(f"held-out accuracy {accuracy:.4f} on {_HELD_OUT} digits; wrote {out} "
        f"({os.path.getsize(out) / 1e6:.2f} MB) in {time.time() - start:.0f}s")


if __name__ == "__main__":
  cli.run(main)
