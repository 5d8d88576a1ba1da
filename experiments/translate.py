"""Translate your own images with a trained CycleGAN run.

    python -m experiments.translate --workdir=DIR --direction=a2b --image=IN.png --out=OUT.png
    python -m experiments.translate --workdir=DIR --direction=b2a --images=FOLDER --out=OUT_FOLDER

a2b runs G (domain A -> B), b2a runs F (B -> A). Any image size (padded to a multiple of 4 for
the network, cropped back); grayscale, RGB, RGBA and palette images are converted to the model's
channels, with a note on stderr. A folder: every image file in it (not in subfolders) is written
to OUT_FOLDER/<name>.png. Bad input is one line on stderr and exit status 2. A run trained with
config.model.code_dim > 0 draws many B images for one A image: --seed=K picks one (default: the zero code).
An image with a side above --tile_above pixels (1024) runs in tiles of --tile pixels, so memory stays bounded;
the result equals the whole-image one to float rounding (jgan.infer.translate explains how, with instance norms).
"""
import os

from absl import flags

from jgan.core import cli
from jgan.core.errors import UserError

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory of experiments.cyclegan.")
_DIRECTION = flags.DEFINE_string("direction", "a2b", "a2b (G: A -> B) or b2a (F: B -> A).")
_IMAGE = flags.DEFINE_string("image", None, "Input image file.")
_IMAGES = flags.DEFINE_string("images", None, "Input folder of images (instead of --image).")
_OUT = flags.DEFINE_string("out", None, "Output .png file (--image) or folder (--images).")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the newest).")
_SEED = flags.DEFINE_integer("seed", None, "a2b with a G that takes a code (config.model.code_dim > 0): draw the "
                             "code from this seed, the same for every image (default: the zero code).")

_TILE_ABOVE = flags.DEFINE_integer("tile_above", 1024, "Translate images with a side above this many pixels in tiles.")
_TILE = flags.DEFINE_integer("tile", 256, "Kept side of a tile in pixels (a multiple of 4).")


def _inputs() -> list[tuple[str, str]]:
  """(input file, output file) pairs from the flags."""
  from jgan.data.sources import IMAGE_EXTENSIONS
  if bool(_IMAGE.value) == bool(_IMAGES.value):
    raise UserError("give exactly one of --image=IN.png and --images=FOLDER")
  if _IMAGE.value:
    if not _OUT.value.lower().endswith(".png"):
      raise UserError(f"--out={_OUT.value}: give a file name ending in .png")
    return [(_IMAGE.value, _OUT.value)]
  folder = _IMAGES.value
  if not os.path.isdir(folder):
    raise UserError(f"--images={folder}: no such folder")
  names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS)
                 and os.path.isfile(os.path.join(folder, n)))
  if not names:
    raise UserError(f"--images={folder}: no image files in it (looked for {', '.join(IMAGE_EXTENSIONS)})")
  if os.path.isfile(_OUT.value):
    raise UserError(f"--out={_OUT.value} is a file: with --images give an output folder")
  return [(os.path.join(folder, n), os.path.join(_OUT.value, os.path.splitext(n)[0] + ".png")) for n in names]


def main(argv):
  if len(argv) != 1:
    raise UserError(f"unexpected arguments {' '.join(argv[1:])}: use --image/--images and --out")
  for name, value in (("workdir", _WORKDIR.value), ("out", _OUT.value)):
    if not value:
      raise UserError(f"--{name} is required")
  from jgan.infer import repair as image_io
  from jgan.infer import translate
  direction = translate.check_direction(_DIRECTION.value)
  if _TILE.value < 4 or _TILE.value % 4 or _TILE_ABOVE.value < 1:
    raise UserError(f"--tile={_TILE.value} --tile_above={_TILE_ABOVE.value}: --tile must be a multiple of 4, "
                    "--tile_above at least 1")
  pairs = _inputs()
  for path, _ in pairs:   # every input readable before the model loads
    if not os.path.isfile(path):
      raise UserError(f"--image={path}: no such file")
  model = translate.load(_WORKDIR.value, _STEP.value)
  for path, out in pairs:
    image = image_io.read_image(path, model.channels)
    image_io.save_image(out, model.translate(image[None], direction, seed=_SEED.value,
                                                     tile_above=_TILE_ABOVE.value, tile=_TILE.value)[0])
  where = pairs[0][1] if len(pairs) == 1 else f"{len(pairs)} images to {_OUT.value}"
  print(f"wrote {where} ({direction}) with the model of {_WORKDIR.value} at step {model.step}")


if __name__ == "__main__":
  cli.run(main)
