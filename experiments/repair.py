"""Repair your own images with a trained run.

    python -m experiments.repair inpaint --workdir=DIR --image=IN.png --mask=MASK.png --out=OUT.png
    python -m experiments.repair upscale --workdir=DIR --image=IN.png --scale=4 --out=OUT.png [--tile=64]

inpaint: MASK.png is white where pixels are to be filled (a non-binary mask is
thresholded at 0.5, with a note); it must have the image's size. Only masked
pixels change. upscale: the image is processed in overlapping tiles, so memory
stays bounded for any size; --scale must be the one the model was trained for.
Grayscale, RGB, RGBA and palette images are converted to the model's channels
(transparency composited on white), with a note on stderr.
"""
from absl import flags

from jgan.core import cli
from jgan.core.errors import UserError
from jgan.infer import repair as apply

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory of experiments.inpaint or experiments.srgan.")
_IMAGE = flags.DEFINE_string("image", None, "Input image file.")
_MASK = flags.DEFINE_string("mask", None, "inpaint: mask image, white = fill.")
_OUT = flags.DEFINE_string("out", None, "Output .png file.")
_SCALE = flags.DEFINE_integer("scale", None, "upscale: the factor (must match the trained model).")
_TILE = flags.DEFINE_integer("tile", 64, "upscale: tile side in input pixels.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the newest).")

COMMANDS = ("inpaint", "upscale")


def main(argv):
  if len(argv) != 2 or argv[1] not in COMMANDS:
    raise UserError(f"usage: python -m experiments.repair {{{'|'.join(COMMANDS)}}} --workdir=DIR --image=IN.png "
                    "--out=OUT.png [--mask=MASK.png | --scale=N]")
  command = argv[1]
  for name, value in (("workdir", _WORKDIR.value), ("image", _IMAGE.value), ("out", _OUT.value)):
    if not value:
      raise UserError(f"--{name} is required")
  if not _OUT.value.lower().endswith(".png"):
    raise UserError(f"--out={_OUT.value}: give a file name ending in .png")
  if command == "inpaint" and not _MASK.value:
    raise UserError("inpaint needs --mask=MASK.png (white = fill)")
  if command == "upscale" and _SCALE.value is None:
    raise UserError("upscale needs --scale=N (the factor the model was trained for)")
  model = apply.load(_WORKDIR.value, _STEP.value)
  image = apply.read_image(_IMAGE.value, model.channels)
  if command == "inpaint":
    mask = apply.read_mask(_MASK.value, image.shape[:2])
    out = model.inpaint(image[None], mask[None])[0]
    detail = f"{int(mask.sum())} pixels filled"
  else:
    out = model.upscale(image[None], scale=_SCALE.value, tile=_TILE.value)[0]
    detail = f"{image.shape[1]}x{image.shape[0]} -> {out.shape[1]}x{out.shape[0]}"
  apply.save_image(_OUT.value, out)
  print(f"wrote {_OUT.value} ({detail}) with the model of {_WORKDIR.value} at step {model.step}")


if __name__ == "__main__":
  cli.run(main)
