"""tfds builders for arrays held in memory: the embedded digits (`Mnist10k`) and any uint8 images
(`ArrayDataset`), written offline with no TensorFlow (see `jgan.data.embedded`)."""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from jgan.data.embedded import load_embedded_arrays


class Mnist10k(tfds.core.GeneratorBasedBuilder):
  """10,000 MNIST digits, 28x28x1 uint8, labels 0-9, one split `train`."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "The digits packaged with jgan."}

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description="10,000 real MNIST digits shipped inside jgan (no download).",
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
            "label": tfds.features.Tensor(shape=(), dtype=np.int64),
        }),
        supervised_keys=("image", "label"),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    return {"train": self._generate_examples()}

  def _generate_examples(self):
    images, labels = load_embedded_arrays()
    for index, (image, label) in enumerate(zip(images, labels)):
      yield index, {"image": image[..., None], "label": np.int64(label)}


class ArrayDataset(tfds.core.GeneratorBasedBuilder):
  """Any uint8 images (N, H, W, C) with labels as a tfds dataset, written offline like `Mnist10k` (Tensor
  image feature, ArrayRecord files); one split `train`. Labels are a ClassLabel when `num_classes` > 0, else
  an int64 Tensor of -1. `experiments.synthesize --format=tfds` writes its datasets with it; read them back
  with `tfds.builder_from_directory(DIR)` or `config.data.source=DIR`."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Written by jgan."}

  def __init__(self, images: np.ndarray, labels: np.ndarray, num_classes: int, description: str, **kwargs):
    self._images, self._labels = images, labels
    self._num_classes, self._description = num_classes, description
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    label = (tfds.features.ClassLabel(num_classes=self._num_classes) if self._num_classes
             else tfds.features.Tensor(shape=(), dtype=np.int64))
    return tfds.core.DatasetInfo(
        builder=self, description=self._description,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=self._images.shape[1:], dtype=np.uint8), "label": label}),
        supervised_keys=("image", "label"),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # the arrays are in memory
    return {"train": self._generate_examples()}

  def _generate_examples(self):
    for index, (image, label) in enumerate(zip(self._images, self._labels)):
      yield index, {"image": image, "label": np.int64(label)}
