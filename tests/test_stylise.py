"""Style transfer with a known answer (issue 14, task 2): stylise, the style domains, the baselines, the bench."""
import math
import os

import numpy as np
import pytest

from jgan.bench import translate_quality as tq
from jgan.core.errors import UserError
from jgan.data import stylise

ZIP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                   "cifar10-jpeg.zip")
needs_cifar = pytest.mark.skipif(not os.path.isfile(ZIP), reason="the CIFAR-10 JPEG zip is not on this machine")


def _photos(n=3, size=16, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_stylise_is_deterministic_per_image_and_checks_its_input():
  x = _photos()
  y = stylise.stylise(x)
  assert y.dtype == np.uint8 and y.shape == x.shape
  np.testing.assert_array_equal(y, stylise.stylise(x.copy()))
  np.testing.assert_array_equal(y[1], stylise.stylise(x[1]))    # one image's output ignores the others
  assert not np.array_equal(y, x)
  with pytest.raises(UserError):
    stylise.stylise(x.astype(np.float32))
  with pytest.raises(UserError):
    stylise.stylise(x[..., :1])


def test_stylise_is_not_a_per_pixel_colour_map():
  # One colour twice: at (8, 2) in a flat field, at (8, 7) beside a black square, where the ink falls.
  image = np.full((16, 16, 3), 200, np.uint8)
  image[4:12, 8:12] = 0
  out = stylise.stylise(image)
  assert (image[8, 2] == image[8, 7]).all()
  assert np.abs(out[8, 2].astype(int) - out[8, 7].astype(int)).max() > 60
  assert stylise.ink(image[None] / 255.0)[0, 8, 7] > 0.5 and stylise.ink(image[None] / 255.0)[0, 8, 2] == 0


def test_posterise_is_a_monotone_staircase_fixing_its_levels():
  x = np.linspace(0, 1, 1001)
  y = stylise.posterise(x)
  assert np.all(np.diff(y) >= -1e-12)
  levels = np.arange(stylise.LEVELS) / (stylise.LEVELS - 1)
  np.testing.assert_allclose(stylise.posterise(levels), levels, atol=1e-12)
  # flat near a level: a step of 0.02 moves the output far less
  assert abs(stylise.posterise(levels[1] + 0.02) - levels[1]) < 0.002


def test_match_histograms_against_a_hand_computation():
  # Image: half 0, half 255 -> CDF 0.5 at 0, 1 at 255. Reference: values 100 and 200, half each.
  image = np.zeros((1, 2, 2, 1), np.uint8)
  image[0, 1] = 255
  reference = np.array([100, 200, 100, 200], np.uint8).reshape(1, 2, 2, 1)
  out = tq.match_histograms(image, reference)
  np.testing.assert_array_equal(out[0, ..., 0], [[100, 100], [200, 200]])
  # A quarter at 10, three quarters at 20, against a reference uniform on 0..3: 10 -> 0, 20 -> 3.
  image = np.array([10, 20, 20, 20], np.uint8).reshape(1, 2, 2, 1)
  reference = np.array([0, 1, 2, 3], np.uint8).reshape(1, 2, 2, 1)
  np.testing.assert_array_equal(tq.match_histograms(image, reference)[0, ..., 0], [[0, 3], [3, 3]])
  # Channels are matched separately, each image on its own histogram.
  rgb = _photos(2, 8)
  np.testing.assert_array_equal(tq.match_histograms(rgb, rgb[:1])[0], rgb[0])
  with pytest.raises(UserError):
    tq.match_histograms(rgb, rgb[..., :1])


def test_mean_ci95_is_the_student_t_interval():
  from scipy import stats
  mean, half = tq.mean_ci95([1.0, 2.0, 3.0])
  assert mean == 2.0 and half == pytest.approx(stats.t.ppf(0.975, 2) / math.sqrt(3), rel=1e-6)
  for df in (1, 4, 30):
    assert tq.t_quantile(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-6)
  assert math.isnan(tq.mean_ci95([5.0])[1])
  assert tq.format_ci([5.0]) == "5.00" and tq.format_ci([1.0, 2.0, 3.0]).startswith("2.00 +- ")


def test_quality_of_identical_and_shifted_images():
  x = _photos(2, 16)
  same = tq.quality(x, x)
  assert same["ssim"] == pytest.approx(1.0) and same["psnr"] == pytest.approx(10 * math.log10(255 ** 2 / 0.25))
  shifted = np.clip(x.astype(int) + 10, 0, 255).astype(np.uint8)
  mse = np.mean((shifted.astype(float) - x) ** 2, axis=(1, 2, 3))
  assert tq.quality(shifted, x)["psnr"] == pytest.approx(np.mean(10 * np.log10(255 ** 2 / mse)), rel=1e-5)


def test_paired_training_fits_a_tiny_map_and_is_seeded():
  from jgan.models.cyclegan import ResnetGenerator
  g = ResnetGenerator(channels=3, width=4, num_blocks=1)
  x = _photos(8, 8, seed=1)
  y = 255 - x                                   # an easy per-pixel target
  first = tq.train_paired(g, x, y, 60, seed=0, batch_size=4, lr=3e-3)
  np.testing.assert_array_equal(first(x), tq.train_paired(g, x, y, 60, seed=0, batch_size=4, lr=3e-3)(x))
  untrained = tq.train_paired(g, x, y, 0, seed=0)
  assert np.abs(first(x).astype(int) - y).mean() < np.abs(untrained(x).astype(int) - y).mean()


def _style_data(limit):
  from jgan import config as config_lib
  data = config_lib.base_config().data
  data.resolution, data.channels, data.style_root, data.domain_limit = 32, 3, ZIP, limit
  return data


@needs_cifar
def test_style_domains_are_disjoint_halves_and_b_is_stylised():
  from jgan.data import unpaired
  total = 50_000
  a = stylise.domain_indices("cifar_photo_a", "train", total)
  b = stylise.domain_indices("cifar_styled_b", "train", total)
  assert len(a) == len(b) == total // 2 and not set(a) & set(b) and set(a) | set(b) == set(range(total))
  data = _style_data(4)
  photos = unpaired.open_domain("cifar_photo_a:test", data).read_all()
  styled = unpaired.open_domain("cifar_styled_b:test", data).read_all()
  assert photos["x"].shape == (4, 32, 32, 3) and photos["label"].shape == (4,)
  np.testing.assert_array_equal(styled["x"], stylise.stylise(photos["x"]))
  with pytest.raises(UserError):
    unpaired.open_domain("cifar_photo_a:all", data)
  data.channels = 1
  with pytest.raises(UserError):
    unpaired.open_domain("cifar_photo_a", data)


@needs_cifar
def test_style_smoke_config_trains_and_is_scored(tmp_path, capsys):
  from experiments import bench_style
  from experiments.configs import cyclegan as configs
  config = configs.get_config("style_smoke")
  config.data.style_root = ZIP
  folder, = tq.train_seeds(config, str(tmp_path), seeds=1)
  rows = bench_style.score_run(folder, num_test=4, num_reference=8, paired_steps=3)
  assert set(rows) == {"identity", "histogram", "CycleGAN G(x)", "paired L1"}
  assert all(math.isfinite(r["psnr"]) and -1 <= r["ssim"] <= 1 for r in rows.values())
  assert "paired L1" in capsys.readouterr().out
  references = bench_style.score_references(config, seed=1, num_test=4, num_reference=8, paired_steps=2)
  assert set(references) == {"identity", "histogram", "paired L1"}
  assert references["identity"] == rows["identity"] and references["histogram"] == rows["histogram"]


@needs_cifar
def test_the_default_style_root_is_found_from_any_working_folder(tmp_path, monkeypatch):
  from jgan import config as config_lib
  from jgan.data.unpaired import style_root
  default = config_lib.default_of("data.style_root")
  monkeypatch.chdir(tmp_path)   # where ../shared/... means nothing
  assert os.path.samefile(style_root(default), ZIP)
  assert style_root("no/such.zip") == "no/such.zip" and style_root(str(tmp_path)) == str(tmp_path)
