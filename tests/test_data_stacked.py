"""The Stacked-MNIST source: its 1000-mode layout, determinism per seed, and resumable batches."""
import jax
import numpy as np
import pytest
from ml_collections import ConfigDict

from jgan.core.errors import UserError
from jgan.core.sharding import make_mesh
from jgan.data.embedded import load_embedded_arrays
from jgan.data.pipeline import DeviceFeeder
from jgan.data.sources import open_source
from jgan.metrics import stacked_mnist


def _config(resolution=28, channels=3, num=300):
  return ConfigDict(dict(source="stacked_mnist", split="train", resolution=resolution, channels=channels, data_dir="",
                         placement="auto", device_max_bytes=2**31, prefetch=2, num_points=num))


def test_each_channel_is_an_embedded_digit_and_the_label_is_its_mode():
  source = open_source(_config(), seed=4)
  assert (source.length, source.element_shape, source.num_classes) == (300, (28, 28, 3), 1000)
  digits, labels = load_embedded_arrays()
  lookup = {d.tobytes(): int(y) for d, y in zip(digits, labels)}
  batch = source.read(np.arange(50))
  for image, mode in zip(batch["x"], batch["label"]):
    channel_digits = [lookup[image[..., c].tobytes()] for c in range(3)]   # each channel is one digit, exactly
    assert mode == 100 * channel_digits[0] + 10 * channel_digits[1] + channel_digits[2]


def test_same_seed_same_data_other_seed_other_triples():
  a, b = open_source(_config(), seed=1).read_all(), open_source(_config(), seed=1).read_all()
  np.testing.assert_array_equal(a["x"], b["x"])
  c = open_source(_config(), seed=2).read_all()
  assert not np.array_equal(a["label"], c["label"])
  # 300 draws of 1000 equally likely modes: nearly all distinct.
  assert len(set(a["label"].tolist())) > 250


def test_32px_pads_the_digits_and_the_metric_crops_them_back():
  small = open_source(_config(28), seed=0).read(np.arange(8))
  large = open_source(_config(32), seed=0).read(np.arange(8))
  assert large["x"].shape == (8, 32, 32, 3) and not large["x"][:, :2].any()
  np.testing.assert_array_equal(large["x"][:, 2:30, 2:30], small["x"])
  classify = lambda x: np.zeros(len(x), np.int64)
  assert stacked_mnist.stacked_mnist_metrics(large["x"], classify)["modes"] == 1


def test_batches_are_a_function_of_seed_and_step():
  source = open_source(_config(num=64), seed=0)
  feeders = [DeviceFeeder(source, 16, make_mesh(1), seed=0) for _ in range(2)]
  make = jax.jit(feeders[0].make_batch)
  for step in (0, 3, 4, 9):   # 4 steps an epoch: across reshuffles
    first = make(feeders[0].next_feed(step), step, jax.random.key(0))
    again = make(feeders[1].next_feed(step), step, jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(first["x"]), np.asarray(again["x"]))


@pytest.mark.parametrize("resolution,channels,match", [(64, 3, "28 or 32"), (28, 1, "3 channels")])
def test_bad_shapes_are_refused(resolution, channels, match):
  with pytest.raises(UserError, match=match):
    open_source(_config(resolution, channels))


def test_the_real_data_anchor_stacks_only_heldout_digits_deterministically():
  from jgan.data import splits, stacked
  digits, _ = load_embedded_arrays()
  heldout = {d.tobytes() for d in digits[splits.heldout_indices(len(digits))]}
  images = stacked.heldout_stacks(40, seed=3)
  assert images.shape == (40, 28, 28, 3) and images.dtype == np.uint8
  assert all(image[..., c].tobytes() in heldout for image in images for c in range(3))
  np.testing.assert_array_equal(images, stacked.heldout_stacks(40, seed=3))
