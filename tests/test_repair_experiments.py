"""The repair experiments end to end: smoke trainings, the apply API and the repair CLI on their runs."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from jgan.core.errors import UserError
from jgan.infer import repair as apply
from jgan.train.run import train
from tests.conftest import run_module


def _smoke(module, tfds_dir):
  config = module.get_config("smoke")
  config.data.data_dir = tfds_dir
  config.log.tensorboard = False
  return config


@pytest.fixture(scope="module")
def inpaint_run(tmp_path_factory, tfds_dir):
  from experiments.configs import inpaint
  workdir = str(tmp_path_factory.mktemp("inpaint"))
  train(_smoke(inpaint, tfds_dir), workdir)
  return workdir


@pytest.fixture(scope="module")
def srgan_run(tmp_path_factory, tfds_dir):
  from experiments.configs import srgan
  workdir = str(tmp_path_factory.mktemp("srgan"))
  train(_smoke(srgan, tfds_dir), workdir)
  return workdir


def _metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


@pytest.mark.parametrize("run", ["inpaint_run", "srgan_run"])
def test_smoke_runs_log_both_phases_and_write_grids(run, request):
  workdir = request.getfixturevalue(run)
  records = _metrics(workdir)
  assert [r["step"] for r in records] == [2, 4, 6]
  # pretrain_steps=3: step 2 is reconstruction only (D untouched), steps 4 and 6 adversarial.
  assert [r["phase"] for r in records] == [0.0, 1.0, 1.0]
  assert records[0]["d_loss"] == 0.0 and records[-1]["d_loss"] > 0
  assert all(np.isfinite(r["g_loss"]) and np.isfinite(r["psnr"]) for r in records)
  grid = np.asarray(Image.open(os.path.join(workdir, "samples", "latest.png")))
  # smoke: 4 examples, each a row of (input, mask|bicubic, output, truth) 28x28 tiles, 2-pixel gaps.
  assert grid.shape[:2] == (4 * 30 + 2, 4 * 30 + 2)


def test_inpaint_api_changes_only_the_masked_pixels(inpaint_run):
  model = apply.load(inpaint_run)
  assert model.step == 6 and model.channels == 1
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (3, 30, 26, 1), dtype=np.uint8)   # not a multiple of 4: padded inside
  masks = np.zeros((3, 30, 26), np.uint8)
  masks[:, 5:17, 8:20] = 255
  out = model.inpaint(images, masks)
  assert out.shape == images.shape and out.dtype == np.uint8
  np.testing.assert_array_equal(out[masks == 0], images[masks == 0])
  assert not np.array_equal(out[masks > 0], images[masks > 0])
  floats = images.astype(np.float32) / 127.5 - 1.0
  out_f = model.inpaint(floats, masks[..., None] > 0)
  np.testing.assert_array_equal(out_f[masks == 0], floats[masks == 0])   # float inputs: bit for bit too


def test_inpaint_api_rejects_bad_inputs(inpaint_run):
  model = apply.load(inpaint_run)
  images = np.zeros((1, 28, 28, 1), np.uint8)
  with pytest.raises(UserError, match="image's size"):
    model.inpaint(images, np.zeros((1, 20, 28), np.uint8))
  with pytest.raises(UserError, match="channels"):
    model.inpaint(np.zeros((1, 28, 28, 3), np.uint8), np.zeros((1, 28, 28), np.uint8))
  with pytest.raises(UserError, match="use inpaint, not upscale"):
    model.upscale(images, 4)


def test_upscale_api_checks_the_scale_and_tiles(srgan_run):
  model = apply.load(srgan_run)
  assert model.scale == 4
  images = np.random.default_rng(1).integers(0, 256, (1, 19, 23, 1), dtype=np.uint8)
  out = model.upscale(images, scale=4, tile=8)
  assert out.shape == (1, 76, 92, 1) and out.dtype == np.uint8
  np.testing.assert_array_equal(out, model.upscale(images, tile=32))   # tiling does not show
  with pytest.raises(UserError, match="trained for x4, not x2"):
    model.upscale(images, scale=2)


def test_read_image_converts_grayscale_and_rgba(tmp_path, capsys):
  rgba = np.zeros((6, 5, 4), np.uint8)
  rgba[..., 0] = 200
  rgba[..., 3] = 255
  rgba[0, 0, 3] = 0  # one transparent pixel: white
  Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
  rgb = apply.read_image(str(tmp_path / "a.png"), 3)
  assert rgb.shape == (6, 5, 3) and tuple(rgb[0, 0]) == (255, 255, 255) and tuple(rgb[1, 1]) == (200, 0, 0)
  assert "alpha" in capsys.readouterr().err
  gray = apply.read_image(str(tmp_path / "a.png"), 1)
  assert gray.shape == (6, 5, 1)
  Image.fromarray(np.full((4, 4), 77, np.uint8), "L").save(tmp_path / "g.png")
  as_rgb = apply.read_image(str(tmp_path / "g.png"), 3)
  assert as_rgb.shape == (4, 4, 3) and np.all(as_rgb == 77)
  assert "grayscale" in capsys.readouterr().err


def test_repair_cli_inpaints_and_reports_bad_input_in_one_line(inpaint_run, srgan_run, tmp_path):
  image = np.random.default_rng(2).integers(0, 256, (28, 28), dtype=np.uint8)
  Image.fromarray(image, "L").save(tmp_path / "in.png")
  mask = np.zeros((28, 28), np.uint8)
  mask[10:20, 10:20] = 200   # grey, not white: thresholded with a note
  Image.fromarray(mask, "L").save(tmp_path / "mask.png")
  out = tmp_path / "out.png"
  done = run_module("experiments.repair", "inpaint", f"--workdir={inpaint_run}", f"--image={tmp_path / 'in.png'}",
                    f"--mask={tmp_path / 'mask.png'}", f"--out={out}")
  assert done.returncode == 0, done.stderr
  assert "thresholded at 0.5" in done.stderr
  result = np.asarray(Image.open(out))
  np.testing.assert_array_equal(result[mask == 0], image[mask == 0])
  Image.fromarray(np.zeros((20, 28), np.uint8), "L").save(tmp_path / "small.png")
  bad = run_module("experiments.repair", "inpaint", f"--workdir={inpaint_run}", f"--image={tmp_path / 'in.png'}",
                   f"--mask={tmp_path / 'small.png'}", f"--out={out}")
  assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "image's size" in bad.stderr
  scale = run_module("experiments.repair", "upscale", f"--workdir={srgan_run}", f"--image={tmp_path / 'in.png'}",
                     "--scale=3", f"--out={out}")
  assert scale.returncode == 2 and scale.stderr.strip().count("\n") == 0 and "trained for x4, not x3" in scale.stderr


def test_repair_configs_refuse_bad_values(tfds_dir, tmp_path):
  from experiments.configs import inpaint, srgan
  config = _smoke(srgan, tfds_dir)
  config.model.scale = 3
  with pytest.raises(UserError, match="config.model.scale=3"):
    train(config, str(tmp_path / "a"))
  config = _smoke(inpaint, tfds_dir)
  config.repair.max_area = 0.8
  with pytest.raises(UserError, match="max_area"):
    train(config, str(tmp_path / "b"))
  config = _smoke(inpaint, tfds_dir)
  config.repair.mask_kinds = ("ellipse",)
  with pytest.raises(UserError, match="mask_kinds"):
    train(config, str(tmp_path / "c"))
