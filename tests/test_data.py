"""Data sources and feeders: offline embedded set, folders, zips, toy sets, determinism."""
import io
import zipfile

import jax
import numpy as np
import pytest
from ml_collections import ConfigDict
from PIL import Image

from jgan.core.errors import UserError
from jgan.core.sharding import make_mesh
from jgan.data import embedded, toy
from jgan.data.pipeline import DeviceFeeder, HostFeeder, epoch_order, scale_images
from jgan.data.sources import fit_image, open_source


def data_config(source, tfds_dir="", resolution=28, channels=1, split="train"):
  return ConfigDict(dict(source=str(source), split=split, resolution=resolution, channels=channels,
                         data_dir=tfds_dir, placement="auto", device_max_bytes=2**31, prefetch=2, num_points=1000))


def test_embedded_mnist_builds_offline_and_matches_the_packaged_digits(tfds_dir):
  source = open_source(data_config("mnist10k", tfds_dir))
  assert source.length == 10_000 and source.num_classes == 10 and source.element_shape == (28, 28, 1)
  records = source.read_all()
  images, labels = embedded.load_embedded_arrays()
  assert records["x"].dtype == np.uint8
  # tfds shuffles records when writing; the multiset of (image, label) pairs is unchanged.
  ours = sorted(hash(x.tobytes() + bytes([y])) for x, y in zip(records["x"], records["label"]))
  packaged = sorted(hash(x[..., None].tobytes() + bytes([y])) for x, y in zip(images, labels))
  assert ours == packaged
  assert np.bincount(records["label"], minlength=10).min() > 800


def test_embedded_mnist_resized_to_32_rgb(tfds_dir):
  source = open_source(data_config("mnist10k", tfds_dir, resolution=32, channels=3))
  batch = source.read(np.arange(4))
  assert batch["x"].shape == (4, 32, 32, 3)
  np.testing.assert_array_equal(batch["x"][..., 0], batch["x"][..., 1])  # grey stays grey


def _write_images(root, names, size=(10, 8), mode="RGB"):
  for i, name in enumerate(names):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    color = (i * 40 % 255, 100, 200, 128)[:len(mode)] if mode != "L" else i * 40 % 255
    Image.new(mode, size, color).save(path)


def test_folder_with_class_subfolders_gives_labels(tmp_path):
  _write_images(tmp_path, ["cat/a.png", "cat/b.jpg", "dog/c.png"])
  source = open_source(data_config(tmp_path, resolution=16, channels=3))
  assert source.length == 3 and source.num_classes == 2
  batch = source.read(np.arange(3))
  assert batch["x"].shape == (3, 16, 16, 3)
  np.testing.assert_array_equal(batch["label"], [0, 0, 1])


def test_flat_folder_rgba_and_grey_convert(tmp_path):
  _write_images(tmp_path, ["a.png"], mode="RGBA")
  _write_images(tmp_path, ["b.png"], mode="L")
  source = open_source(data_config(tmp_path, resolution=16, channels=3))
  assert source.num_classes == 0
  batch = source.read(np.arange(2))
  assert batch["x"].shape == (2, 16, 16, 3)
  assert (batch["label"] == -1).all()


def test_zip_with_split_subfolders(tmp_path):
  path = tmp_path / "data.zip"
  with zipfile.ZipFile(path, "w") as archive:
    for name in ["train/a/1.png", "train/b/2.png", "test/a/3.png"]:
      buffer = io.BytesIO()
      Image.new("RGB", (32, 32), (255, 0, 0)).save(buffer, format="PNG")
      archive.writestr(name, buffer.getvalue())
  train = open_source(data_config(path, resolution=16, channels=3))
  test = open_source(data_config(path, resolution=16, channels=3, split="test"))
  assert (train.length, train.num_classes, test.length) == (2, 2, 1)
  assert tuple(train.read(np.arange(1))["x"][0, 0, 0]) == (255, 0, 0)


def test_fit_image_crops_the_centre():
  image = np.zeros((10, 30, 3), np.uint8)
  image[:, 10:20] = 255  # a white centre third
  out = fit_image(Image.fromarray(image), 10, 3)
  assert out.shape == (10, 10, 3) and out.min() == 255


@pytest.mark.parametrize("make,message", [
    (lambda p: p / "missing", "no such file or folder"),
    (lambda p: p, "no images found"),
])
def test_bad_folders_raise_one_line_errors(tmp_path, make, message):
  with pytest.raises(UserError, match=message):
    open_source(data_config(make(tmp_path)))


def test_corrupt_image_is_named(tmp_path):
  _write_images(tmp_path, ["good.png"])
  (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
  source = open_source(data_config(tmp_path, resolution=8, channels=3))
  with pytest.raises(UserError, match="broken.png"):
    source.read_all()


def test_every_bad_image_of_a_batch_is_named_in_one_error(tmp_path):
  _write_images(tmp_path, ["good.png"])
  for i in range(8):
    (tmp_path / f"broken{i}.png").write_bytes(b"\x89PNG not really" + bytes([i]))
  source = open_source(data_config(tmp_path, resolution=8, channels=3))
  with pytest.raises(UserError) as error:
    source.read_all()
  message = str(error.value)
  assert "\n" not in message
  assert all(f"broken{i}.png" in message for i in range(6)), message
  assert "and 2 more" in message and "good.png" not in message


def test_16_bit_png_is_rescaled_not_clipped(tmp_path):
  # A 16-bit gradient: .convert("RGBA") used to clip every value above 255 to white.
  gradient = np.linspace(0, 65535, 16 * 16).round().astype(np.uint16).reshape(16, 16)
  Image.fromarray(gradient).save(tmp_path / "deep.png")
  with Image.open(tmp_path / "deep.png") as image:
    assert image.mode.startswith("I;16")
  source = open_source(data_config(tmp_path, resolution=16, channels=1))
  got = source.read(np.arange(1))["x"][0, ..., 0]
  np.testing.assert_array_equal(got, np.round(gradient / 257.0).astype(np.uint8))
  rgb = open_source(data_config(tmp_path, resolution=16, channels=3)).read(np.arange(1))["x"][0]
  np.testing.assert_array_equal(rgb[..., 0], got)


@pytest.mark.parametrize("mode,values,expected", [
    ("I", [[0, 257], [65535, 70000]], [[0, 1], [255, 255]]),          # scaled as 16-bit samples, clipped
    ("I", [[-5, 128 * 257], [1000, 2570]], [[0, 128], [4, 10]]),
    ("F", [[0.0, 0.5], [1.0, 0.25]], [[0, 128], [255, 64]]),           # max <= 1: a 0..1 image
    ("F", [[0.0, 127.6], [300.0, -2.0]], [[0, 128], [255, 0]]),         # else 0..255, clipped
    ("F", [[float("nan"), 1.0], [0.0, 0.0]], [[0, 255], [0, 0]]),
])
def test_32_bit_int_and_float_images_scale_to_8_bits(mode, values, expected):
  array = np.array(values, np.int32 if mode == "I" else np.float32)
  out = fit_image(Image.fromarray(array, mode), 2, 1)
  np.testing.assert_array_equal(out[..., 0], expected)


def _encoded(rng, mode: str) -> bytes:
  size = (int(rng.integers(1, 12)), int(rng.integers(1, 12)))
  pixels = rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
  if mode in ("I;16", "I", "F"):
    high = {"I;16": 65535, "I": 1 << 20, "F": 2.0}[mode]
    array = rng.uniform(0, high, size[::-1])
    array = array.astype({"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode])
    image = Image.fromarray(array, mode) if mode != "I;16" else Image.fromarray(array)
  else:
    image = Image.fromarray(pixels, "RGBA").convert(mode)
  if mode == "P" and rng.random() < 0.5:
    image.info["transparency"] = 0
  fmt = {"I": "TIFF", "F": "TIFF", "CMYK": "JPEG"}.get(mode) or ("JPEG" if mode in ("L",) and rng.random() < 0.5
                                                                  else "PNG")
  buffer = io.BytesIO()
  image.save(buffer, format=fmt)
  return buffer.getvalue()


def _mutated(rng, data: bytes) -> bytes:
  data = bytearray(data)
  for _ in range(int(rng.integers(1, 6))):
    roll = rng.random()
    if roll < 0.5 and data:
      data[int(rng.integers(len(data)))] = int(rng.integers(256))
    elif roll < 0.75 and data:
      data = data[:int(rng.integers(len(data)))]
    else:
      at = int(rng.integers(len(data) + 1))
      data[at:at] = rng.integers(0, 256, int(rng.integers(1, 32)), dtype=np.uint8).tobytes()
  return bytes(data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the corrupt TIFF tags it skips
def test_image_decoder_fuzz_gives_uint8_images_or_one_user_error():
  from jgan.data.sources import decode_image
  rng = np.random.default_rng(7)
  modes = ["1", "L", "LA", "P", "I;16", "I", "F", "CMYK", "RGBA", "RGB"]
  outcomes = {"decoded": 0, "refused": 0}
  for i in range(600):
    mode = modes[i % len(modes)]
    data = _encoded(rng, mode)
    if i % 3:  # two in three are damaged
      data = _mutated(rng, data)
    resolution, channels = int(rng.choice([1, 5, 8])), int(rng.choice([1, 3]))
    try:
      out = decode_image(data, resolution, channels, f"case{i}.{mode}")
    except UserError as e:
      assert "\n" not in str(e) and f"case{i}" in str(e)
      outcomes["refused"] += 1
      continue
    assert out.dtype == np.uint8 and out.shape == (resolution, resolution, channels), (i, mode, out.shape)
    outcomes["decoded"] += 1
  assert outcomes["decoded"] > 200 and outcomes["refused"] > 50, outcomes


def test_unknown_dataset_name(tfds_dir):
  with pytest.raises(UserError, match="unknown dataset"):
    open_source(data_config("no_such_dataset_xyz", tfds_dir))


@pytest.mark.parametrize("name,count", [("ring8", 8), ("grid25", 25)])
def test_toy_sets_match_their_definition(name, count):
  modes, sigma = toy.toy_modes(name)
  points, which = toy.sample_toy(name, 20_000, seed=3)
  assert modes.shape == (count, 2)
  residual = points - modes[which]
  np.testing.assert_allclose(residual.std(axis=0), sigma, rtol=0.05)
  assert np.bincount(which, minlength=count).min() > 20_000 / count * 0.8
  if name == "ring8":
    np.testing.assert_allclose(np.linalg.norm(modes, axis=1), 1.0)
  np.testing.assert_array_equal(toy.sample_toy(name, 20_000, seed=3)[0], points)


def _epoch_indices(feeder, root, steps):
  make = jax.jit(feeder.make_batch)
  return [np.asarray(make(feeder.next_feed(step), step, root)["label"]) for step in steps]


def test_device_feeder_is_deterministic_and_visits_every_example_once_per_epoch():
  n, batch_size = 40, 8
  source = open_source(data_config("ring8"))
  source.length = n  # a short dataset: labels below are the row numbers
  source.read = lambda idx: {"x": np.zeros((len(idx), 2), np.float32), "label": np.asarray(idx, np.int32)}
  feeder = DeviceFeeder(source, batch_size, make_mesh(1), seed=0)
  root = jax.random.key(0)
  epoch0 = _epoch_indices(feeder, root, range(5))
  np.testing.assert_array_equal(np.sort(np.concatenate(epoch0)), np.arange(n))
  again = _epoch_indices(DeviceFeeder(source, batch_size, make_mesh(1), seed=0), root, range(5))
  np.testing.assert_array_equal(np.concatenate(epoch0), np.concatenate(again))
  epoch1 = _epoch_indices(feeder, root, range(5, 10))
  assert not np.array_equal(np.concatenate(epoch0), np.concatenate(epoch1))  # reshuffled


def test_device_feeder_shuffles_once_per_epoch_outside_the_step_with_the_same_indices():
  n, batch_size = 40, 8  # 5 steps an epoch
  source = open_source(data_config("ring8"))
  source.length = n
  source.read = lambda idx: {"x": np.zeros((len(idx), 2), np.float32), "label": np.asarray(idx, np.int32)}
  feeder = DeviceFeeder(source, batch_size, make_mesh(1), seed=4)
  root = jax.random.key(4)
  make = jax.jit(feeder.make_batch)
  # The indices are those of the permutation the step used to compute itself, epoch by epoch.
  for step in (0, 4, 5, 13):
    epoch, position = divmod(step, 5)
    expected = np.asarray(epoch_order(root, epoch, n))[position * batch_size:(position + 1) * batch_size]
    np.testing.assert_array_equal(np.asarray(make(feeder.next_feed(step), step, root)["label"]), expected)
  # A feed for k steps (steps_per_call) serves each of them, across epoch boundaries too.
  for start, count in ((3, 4), (2, 12)):
    feed = feeder.next_feed(start, count)
    assert feed["orders"].shape[0] == feeder.epochs_spanned(count)
    for step in range(start, start + count):
      np.testing.assert_array_equal(np.asarray(make(feed, step, root)["label"]),
                                    np.asarray(make(feeder.next_feed(step), step, root)["label"]))
  # No sort inside the step: the shuffle is not recomputed there.
  hlo = make.lower(feeder.next_feed(0), 0, root).compile().as_text()
  assert "sort" not in hlo


def test_host_feeder_is_deterministic_and_resumes_at_any_step(tfds_dir):
  source = open_source(data_config("mnist10k", tfds_dir))
  feeder = HostFeeder(source, 16, make_mesh(1), seed=5)
  first = [np.asarray(feeder.next_feed(step)["label"]) for step in range(3)]
  feeder.close()
  resumed = HostFeeder(source, 16, make_mesh(1), seed=5)
  np.testing.assert_array_equal(np.asarray(resumed.next_feed(2)["label"]), first[2])
  batch = resumed.next_feed(3)
  resumed.close()
  assert batch["x"].dtype == np.uint8 and batch["x"].shape == (16, 28, 28, 1)
  scaled = scale_images(batch["x"])
  assert float(scaled.min()) >= -1.0 and float(scaled.max()) <= 1.0


def test_tfds_name_offline_fails_fast_with_a_hint(tfds_dir, monkeypatch):
  import time

  from jgan.data import sources
  monkeypatch.setattr(sources, "_can_reach", lambda *a, **k: False)  # as on a machine without network
  start = time.perf_counter()
  with pytest.raises(UserError, match="mnist10k"):
    open_source(data_config("mnist", tfds_dir))
  assert time.perf_counter() - start < 30  # tfds alone retries for minutes
