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
import numpy as np
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
  """((train images, labels), (held-out images, labels)): the held-out 1,000 are the first of a seeded
  permutation; with seed 0 they are the study's held-out test digits (jgan.data.splits)."""
  images, labels = load_embedded_arrays()
  order = np.random.default_rng(seed).permutation(len(images))
  test, train = order[:_HELD_OUT], order[_HELD_OUT:]
  images = images[..., None]
  return (images[train], labels[train].astype(np.int32)), (images[test], labels[test].astype(np.int32))


def train(seed: int, epochs: int):
  (x_train, y_train), (x_test, y_test) = split(seed)
  params = lenet.fit(x_train, y_train, seed, epochs * (len(x_train) // _BATCH), _BATCH,
                     on_epoch=lambda epoch, loss: print(f"epoch {epoch}/{epochs} loss {loss:.4f}", flush=True))
  return params, lenet.accuracy(params, x_test, y_test)


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
