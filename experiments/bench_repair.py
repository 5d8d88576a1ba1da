"""Image-repair benchmark on CIFAR-10: `make bench-repair`, or

    python -m experiments.bench_repair --workdir=runs/bench_repair [--data=../shared/data/cifar10-jpeg.zip]

Trains on the zip's train/ split, measures on its test/ split (the first
--num_test images; masks seeded, the same for every method):

  inpainting, per mask kind (hole = 25% of the image): PSNR and L1 inside the
    hole, SSIM of the whole completed image (pixels outside the hole are the
    input's for every method, so it ranks the fills), and FID of the completed
    images against their originals; jgan (gated-conv generator + PatchGAN) vs
    mean fill (each channel's mean over the known pixels of the image) vs
    OpenCV's Telea inpainting (radius 3; skipped if cv2 is missing:
    pip install 'jgan[bench]').
  super-resolution x4 (8x8 -> 32x32, low-res by antialiased bicubic
    downscaling): PSNR and SSIM on RGB in [0, 255], and FID against the
    originals; bicubic vs SRResNet (pixel loss only) vs SRGAN (the same
    SRResNet checkpoint trained on with adversarial + feature-matching terms).

FID uses the FID Inception-v3 when its weights are on this machine
(jgan.features; otherwise the column says why it is missing) on the first
--fid_num images: with so few samples FID is biased upwards and only the
differences within a table mean anything.

Training runs resume: a second invocation with the same flags only measures.
All images are uint8 before scoring, as a user would get them.
"""
from __future__ import annotations

import os
import shutil
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from jgan.bench.repair import ReferenceFID, hole_scores, image_scores, mean_fill, telea_fill
from jgan.core import cli
from jgan.core.errors import UserError
from jgan.data import images as image_lib
from jgan.data.sources import open_source
from jgan.infer import repair as apply
from jgan.models.repair import bicubic_upscale
from jgan.objectives import masks as masks_lib
from jgan.tasks.repair import downscale
from jgan.train.run import train

_WORKDIR = flags.DEFINE_string("workdir", "runs/bench_repair", "Where the three training runs live.")
_DATA = flags.DEFINE_string("data", "../shared/data/cifar10-jpeg.zip", "CIFAR-10 zip/folder with train/ and test/.")
_INPAINT_STEPS = flags.DEFINE_integer("inpaint_steps", 900, "Inpainting training steps (batch 16).")
_INPAINT_PRETRAIN = flags.DEFINE_integer("inpaint_pretrain", 300, "Of those, L1-only warm-up steps.")
_SR_PRETRAIN = flags.DEFINE_integer("sr_pretrain_steps", 1500, "SRResNet (pixel loss) steps, batch 32.")
_SR_GAN = flags.DEFINE_integer("sr_gan_steps", 600, "SRGAN steps after the SRResNet ones.")
_NUM_TEST = flags.DEFINE_integer("num_test", 1000, "Test images scored for PSNR/SSIM/L1.")
_FID_NUM = flags.DEFINE_integer("fid_num", 128, "Test images per FID set (0: no FID).")
_AREA = flags.DEFINE_float("area", 0.25, "Hole fraction of the inpainting masks.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the runs and of the test masks.")


def _log(message: str) -> None:
  print(message, flush=True)


# ---------------------------------------------------------------- training

def _inpaint_config():
  from experiments.configs import inpaint
  config = inpaint.get_config("cifar")
  config.seed = _SEED.value
  config.data.source = _DATA.value
  config.train.batch_size = 16
  config.train.num_steps = _INPAINT_STEPS.value
  config.train.pretrain_steps = _INPAINT_PRETRAIN.value
  _quiet_log(config)
  return config


def _sr_config(num_steps: int):
  from experiments.configs import srgan
  config = srgan.get_config("cifar")
  config.seed = _SEED.value
  config.data.source = _DATA.value
  config.train.pretrain_steps = _SR_PRETRAIN.value
  config.train.num_steps = num_steps
  _quiet_log(config)
  return config


def _quiet_log(config) -> None:
  steps = config.train.num_steps
  config.log.every_steps = max(1, steps // 6)
  config.log.sample_every_steps = steps
  config.log.checkpoint_every_steps = steps
  config.log.tensorboard = False


def train_all(workdir: str) -> dict[str, str]:
  """Trains (or resumes) the three runs; returns their directories."""
  dirs = {name: os.path.join(workdir, name) for name in ("inpaint", "srresnet", "srgan")}
  started = time.time()
  train(_inpaint_config(), dirs["inpaint"])
  _log(f"[inpaint trained in {time.time() - started:.0f}s]")
  started = time.time()
  pretrain = _SR_PRETRAIN.value
  train(_sr_config(pretrain), dirs["srresnet"])
  if not os.path.isdir(dirs["srgan"]):
    # SRGAN starts from the SRResNet checkpoint (Ledig et al. 2017, sec. 3.2): the same run, continued.
    shutil.copytree(dirs["srresnet"], dirs["srgan"])
  train(_sr_config(pretrain + _SR_GAN.value), dirs["srgan"])
  _log(f"[super-resolution trained in {time.time() - started:.0f}s]")
  return dirs


def _fmt(value, spec: str) -> str:
  return "n/a" if value is None else format(value, spec)


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
  widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
  line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
  sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
  return "\n".join([title, line(header), sep] + [line(r) for r in rows])


def _grid(path: str, columns: list[np.ndarray], num: int = 8) -> None:
  """Writes a PNG with one row per example and one column per entry of `columns` (uint8 batches)."""
  tiles = np.stack([c[:num] for c in columns], axis=1)
  image_lib.save_png(path, image_lib.make_grid(tiles.reshape(-1, *tiles.shape[2:]), columns=len(columns)))


# ---------------------------------------------------------------- benchmark

def bench_inpaint(model_dir: str, test: np.ndarray, fid: ReferenceFID, out_dir: str) -> str:
  model = apply.load(model_dir)
  rows = []
  height, width = test.shape[1:3]
  telea_missing = False
  for kind in masks_lib.KINDS:
    key = jax.random.fold_in(jax.random.key(_SEED.value), masks_lib.KINDS.index(kind))
    masks = np.asarray(jax.jit(masks_lib.make_masks, static_argnums=(1, 2, 3, 4))(
        key, kind, len(test), height, width, _AREA.value))
    methods = {"jgan": model.inpaint(test, masks), "mean fill": mean_fill(test, masks)}
    telea = telea_fill(test, masks)
    if telea is None:
      telea_missing = True
    else:
      methods["Telea"] = telea
    for name, pred in methods.items():
      assert np.array_equal(pred[~np.broadcast_to(masks.astype(bool), pred.shape)],
                            test[~np.broadcast_to(masks.astype(bool), test.shape)]), name
      s = hole_scores(pred, test, masks)
      rows.append([kind, name, f"{s['psnr']:.2f}", f"{s['ssim']:.4f}", f"{s['l1']:.4f}",
                   _fmt(fid(pred), ".1f") if not fid.reason else "n/a"])
    shown_input = np.where(masks.astype(bool), np.uint8(128), test)
    shown_mask = np.broadcast_to(masks * 255, test.shape).astype(np.uint8)
    _grid(os.path.join(out_dir, f"inpaint_{kind}.png"),
          [shown_input, shown_mask, methods["jgan"], methods.get("Telea", methods["mean fill"]),
           methods["mean fill"], test])
  notes = [f"holes: {_AREA.value:.0%} of the image, {len(test)} CIFAR-10 test images; PSNR/L1 inside the hole, "
           f"SSIM over the whole image; FID: {fid.reason or f'Inception, {fid.num} images vs their originals'}"]
  if telea_missing:
    notes.append("Telea skipped: OpenCV (cv2) is not installed; pip install opencv-python-headless")
  return _table("Inpainting (CIFAR-10 test)", ["mask", "method", "PSNR dB", "SSIM", "L1", "FID"], rows) + \
      "\n" + "\n".join(notes)


def bench_superres(dirs: dict, test: np.ndarray, fid: ReferenceFID, out_dir: str) -> str:
  scale = 4
  hr = jnp.asarray(test, jnp.float32) * (2.0 / 255.0) - 1.0
  low = downscale(hr, scale)
  to_uint8 = lambda x: image_lib.to_uint8(np.asarray(x))
  methods = {"bicubic": to_uint8(jnp.clip(bicubic_upscale(low, scale), -1, 1))}
  for name, key in (("SRResNet (pixel loss)", "srresnet"), ("SRGAN", "srgan")):
    model = apply.load(dirs[key])
    if model.scale != scale:
      raise UserError(f"{dirs[key]} holds a x{model.scale} model, the benchmark measures x{scale}")
    # The whole 8x8 input in one pass, as in training (tiling is for images larger than a tile).
    fn = jax.jit(model.task.upscale)
    methods[f"{name} @{model.step}"] = np.concatenate([to_uint8(fn(model.state, low[i:i + 250]))
                                                       for i in range(0, len(low), 250)])
  rows = []
  for name, pred in methods.items():
    s = image_scores(pred, test)
    rows.append([name, f"{s['psnr']:.2f}", f"{s['ssim']:.4f}", _fmt(fid(pred), ".1f") if not fid.reason else "n/a"])
  nearest = np.repeat(np.repeat(to_uint8(jnp.clip(low, -1, 1)), scale, 1), scale, 2)
  _grid(os.path.join(out_dir, "superres_x4.png"), [nearest, *methods.values(), test])
  note = (f"x4: 8x8 -> 32x32, {len(test)} CIFAR-10 test images; PSNR/SSIM on RGB; "
          f"FID: {fid.reason or f'Inception, {fid.num} images vs their originals'}")
  return _table("Super-resolution x4 (CIFAR-10 test)", ["method @step", "PSNR dB", "SSIM", "FID"], rows) + "\n" + note


def main(argv):
  del argv
  started = time.time()
  workdir = _WORKDIR.value
  _log("command: " + " ".join(["python -m experiments.bench_repair"] + sys.argv[1:]))
  dirs = train_all(workdir)
  data = _inpaint_config().data
  data.split = "test"
  source = open_source(data, seed=_SEED.value)
  num = min(_NUM_TEST.value, source.length)
  test = source.read(np.arange(num))["x"]
  fid_started = time.time()
  fid = ReferenceFID(test, min(_FID_NUM.value, num))
  _log(f"[read {num} test images and the FID reference in {time.time() - fid_started:.0f}s]")
  inpaint_table = bench_inpaint(dirs["inpaint"], test, fid, workdir)
  _log(f"[inpainting measured at {time.time() - fid_started:.0f}s]")
  sr_table = bench_superres(dirs, test, fid, workdir)
  _log(f"[evaluated in {time.time() - fid_started:.0f}s]")
  _log("\n" + inpaint_table + "\n\n" + sr_table)
  _log(f"\ngrids: {os.path.join(workdir, 'inpaint_<mask>.png')} (input | mask | jgan | Telea | mean fill | truth), "
       f"{os.path.join(workdir, 'superres_x4.png')} (low-res | bicubic | SRResNet | SRGAN | truth)")
  _log(f"total {time.time() - started:.0f}s")


if __name__ == "__main__":
  cli.run(main)
