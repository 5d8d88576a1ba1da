"""lenet-mnist: shipped weights, accuracy, the MNIST FID sanity check, batch/device independence, bad input."""
import importlib.resources
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from jgan import features
from jgan.core.errors import UserError
from jgan.data.embedded import load_embedded_arrays
from jgan.features import lenet
from jgan.metrics import fid as fid_lib


def test_shipped_weights_are_small_and_accurate_on_the_held_out_digits():
  with importlib.resources.as_file(lenet.packaged_weights_path()) as path:
    assert os.path.getsize(path) < 1_000_000
  _, meta = lenet.load_params()
  assert meta["held_out"] == 1000 and meta["held_out_accuracy"] >= 0.97
  # Recompute the recorded accuracy on the same seeded split (experiments/train_lenet.py).
  images, labels = load_embedded_arrays()
  held_out = np.random.default_rng(meta["seed"]).permutation(len(images))[:meta["held_out"]]
  logits = features.get("lenet-mnist")(images[held_out][..., None])["logits"]
  accuracy = float(np.mean(np.argmax(logits, 1) == labels[held_out]))
  assert accuracy == pytest.approx(meta["held_out_accuracy"], abs=1e-3)


def test_fid_between_mnist_halves_is_far_below_fid_to_half_the_classes():
  images, labels = load_embedded_arrays()
  images = images[..., None]
  rng = np.random.default_rng(0)
  order = rng.permutation(len(images))
  extract = lambda idx: features.get("lenet-mnist")(images[idx])["features"]
  half_a, half_b = extract(order[:5000]), extract(order[5000:])
  five_classes = extract(rng.choice(np.flatnonzero(labels < 5), 5000, replace=False))
  same = fid_lib.fid(half_a, half_b)
  missing = fid_lib.fid(half_a, five_classes)
  assert same < 5 and missing > 50 and missing > 20 * same, (same, missing)


def test_outputs_do_not_depend_on_batch_size_or_device_count(tmp_path):
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JGAN_CACHE": str(tmp_path),
         "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
  proc = subprocess.run([sys.executable, str(REPO / "tests/scripts/eval_devices.py")], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[len("RESULT "):])
  for name, diff in results.items():
    assert diff["features"] < 1e-5, (name, diff)
    assert diff["scores"] < 1e-6, (name, diff)


def test_batches_in_flight_at_once_change_nothing_and_keep_the_order():
  digits = load_embedded_arrays()[0][:50, ..., None]
  lenet_extractor = features.get("lenet-mnist")
  one = lenet_extractor(digits, batch_size=7, streams=1)  # 8 batches, the last one padded
  for streams in (2, 3):
    many = lenet_extractor(digits, batch_size=7, streams=streams)
    for key in ("features", "logits"):
      np.testing.assert_array_equal(many[key], one[key])
  # Order: each image's own features, whichever batch and thread computed them.
  alone = lenet_extractor(digits[41:42], batch_size=7, streams=1)
  np.testing.assert_array_equal(one["features"][41], alone["features"][0])
  with pytest.raises(UserError, match="streams=0") as error:
    lenet_extractor(digits, streams=0)
  assert "\n" not in str(error.value)


@pytest.mark.parametrize("images,message", [
    (np.zeros((4, 28, 28, 1), np.float32), "uint8"),
    (np.zeros((4, 28, 28), np.uint8), "shape"),
    (np.zeros((4, 28, 28, 3), np.uint8), r"C in \(1,\)"),
    (np.zeros((0, 28, 28, 1), np.uint8), "empty"),
    (np.zeros((4, 4, 4, 1), np.uint8), "too small"),
])
def test_bad_images_are_one_line_errors(images, message):
  with pytest.raises(UserError, match=message) as error:
    features.get("lenet-mnist")(images)
  assert "\n" not in str(error.value)
