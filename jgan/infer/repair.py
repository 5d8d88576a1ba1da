"""Applying a trained repair model to your own images.

    from jgan.infer import repair as apply
    model = apply.load("runs/inpaint")                 # newest checkpoint of a run
    out = model.inpaint(images, masks)                 # images uint8/float (B, H, W, C), masks (B, H, W[, 1])
    model = apply.load("runs/srgan")
    big = model.upscale(images, scale=4)               # (B, h, w, C) -> (B, 4h, 4w, C), tiled

Conventions: float images are in [-1, 1], uint8 images in [0, 255]; outputs
come back in the input's kind. Masks: 1 (or white) = the pixels to fill. A
mask that is not binary is thresholded at 0.5 with a note on stderr; a mask of
another size than its image is a one-line error.

Tiled upscaling (`upscale_tiled`): the low-res image is cut into tiles of
`tile` x `tile` pixels, each read with `overlap` extra pixels of context on
every side; only the tile's own centre is kept. When `overlap` is at least the
network's receptive radius (the default) a tile's kept pixels see exactly what
they would see in one whole-image pass, so the seams are invisible: tiled and
untiled agree to float rounding. Tiles run in batches of fixed shape
(tile_batch, tile + 2 overlap, tile + 2 overlap, C), so one compiled program
serves any image and device memory stays bounded whatever the image size
(only the host holds the whole output). The image border is extended by
replicating edge pixels, in both modes.
"""
from __future__ import annotations

import math
import os
import sys
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jgan.core.errors import UserError
from jgan.infer.sampling import restore_state
from jgan.tasks import element_shape, make_task
from jgan.tasks.inpaint import InpaintTask
from jgan.tasks.superres import SuperResTask
from jgan.train import workdir as workdir_lib


def _note(message: str) -> None:
  print(f"note: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- image and mask conversion

def _to_float(images) -> tuple[np.ndarray, bool]:
  """uint8 [0, 255] or float [-1, 1] -> (float32 [-1, 1], was_uint8)."""
  images = np.asarray(images)
  if images.dtype == np.uint8:
    return images.astype(np.float32) * (2.0 / 255.0) - 1.0, True
  return images.astype(np.float32), False


def _from_float(images: np.ndarray, as_uint8: bool) -> np.ndarray:
  if as_uint8:
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
  return images


def binarize_masks(masks, shape: tuple[int, ...], what: str = "mask") -> np.ndarray:
  """Masks (B, H, W) or (B, H, W, 1), bool/uint8 (255 = hole)/float (1 = hole) -> float32 (B, H, W, 1) in {0, 1}.

  `shape` is the images' (B, H, W, C); another size is a UserError; non-binary
  values are thresholded at half the range, with a note on stderr.
  """
  masks = np.asarray(masks)
  if masks.ndim == len(shape) and masks.shape[-1] == 1:
    masks = masks[..., 0]
  if masks.shape != tuple(shape[:3]):
    raise UserError(f"{what} has shape {masks.shape[1:] if masks.ndim == 3 else masks.shape}, but the image is "
                    f"{tuple(shape[1:3])}: give a mask of the image's size (white = fill)")
  if masks.dtype == np.bool_:
    return masks.astype(np.float32)[..., None]
  top = 255.0 if masks.dtype == np.uint8 else 1.0
  values = masks.astype(np.float32) / top
  binary = values >= 0.5
  if not np.all((values == 0) | (values == 1)):
    _note(f"{what} is not binary ({len(np.unique(values))} distinct values): thresholded at 0.5, "
          f"{binary.mean():.1%} of pixels to fill")
  return binary.astype(np.float32)[..., None]


def read_image(path: str, channels: int) -> np.ndarray:
  """An image file -> uint8 (H, W, channels); grayscale/RGB/RGBA/palette converted (transparency -> white)."""
  if not os.path.isfile(path):
    raise UserError(f"--image={path}: no such file")
  try:
    with Image.open(path) as image:
      image.load()
      mode = image.mode
      if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        _note(f"{path} has an alpha channel ({mode}): composited on white")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
      target = "L" if channels == 1 else "RGB"
      gray = mode in ("1", "L", "LA", "I", "I;16", "F")
      if gray != (channels == 1):
        _note(f"{path} is {'grayscale' if gray else 'colour'} ({mode}); the model works in {target}: converted")
      array = np.asarray(image.convert(target), np.uint8)
  except (OSError, ValueError, Image.DecompressionBombError) as e:
    raise UserError(f"cannot read image {path}: {e}") from None
  return array[..., None] if channels == 1 else array


def read_mask(path: str, shape: tuple[int, int]) -> np.ndarray:
  """A mask file (white = fill) -> float32 (H, W, 1) in {0, 1}; checked against the image `shape` (H, W)."""
  if not os.path.isfile(path):
    raise UserError(f"--mask={path}: no such file")
  try:
    with Image.open(path) as image:
      image.load()
      if image.mode in ("RGBA", "LA"):
        image = Image.alpha_composite(Image.new("RGBA", image.size, (0, 0, 0, 255)), image.convert("RGBA"))
      array = np.asarray(image.convert("L"), np.uint8)
  except (OSError, ValueError) as e:
    raise UserError(f"cannot read mask {path}: {e}") from None
  if array.shape != tuple(shape):
    raise UserError(f"mask {path} is {array.shape[1]}x{array.shape[0]} pixels but the image is "
                    f"{shape[1]}x{shape[0]}: give a mask of the image's size (white = fill)")
  return binarize_masks(array[None], (1, *shape, 1), what=f"mask {path}")[0]


def save_image(path: str, image: np.ndarray) -> None:
  from jgan.data.images import save_png
  if not path.lower().endswith(".png"):
    raise UserError(f"--out={path}: give a file name ending in .png")
  save_png(path, image)


# ---------------------------------------------------------------- tiling

def upscale_tiled(fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray, scale: int, tile: int,
                  overlap: int, tile_batch: int) -> np.ndarray:
  """Upscales one float image (h, w, C) by `scale` with `fn` applied to fixed-shape tile batches.

  Args:
    fn: (tile_batch, tile + 2*overlap, tile + 2*overlap, C) -> the same x `scale` (all but C).
    image: float32 (h, w, C), any size.
    tile, overlap: kept tile side and context margin, in low-res pixels.
    tile_batch: tiles per call of `fn` (the last batch is padded with copies).
  Returns:
    float32 (scale*h, scale*w, C).
  """
  if tile < 1 or overlap < 0 or tile_batch < 1:
    raise UserError(f"tile={tile}, overlap={overlap}, tile_batch={tile_batch}: need tile >= 1, overlap >= 0, "
                    "tile_batch >= 1")
  height, width, channels = image.shape
  rows, cols = math.ceil(height / tile), math.ceil(width / tile)
  padded = np.pad(image, ((overlap, rows * tile - height + overlap), (overlap, cols * tile - width + overlap),
                          (0, 0)), mode="edge")
  window = tile + 2 * overlap
  out = np.zeros((rows * tile * scale, cols * tile * scale, channels), np.float32)
  positions = [(r, c) for r in range(rows) for c in range(cols)]
  for start in range(0, len(positions), tile_batch):
    chunk = positions[start:start + tile_batch]
    tiles = np.stack([padded[r * tile:r * tile + window, c * tile:c * tile + window] for r, c in chunk])
    if len(chunk) < tile_batch:  # same shape every call: one compile, fixed memory
      tiles = np.concatenate([tiles, np.repeat(tiles[-1:], tile_batch - len(chunk), axis=0)])
    result = np.asarray(fn(tiles))
    keep = slice(overlap * scale, (overlap + tile) * scale)
    for i, (r, c) in enumerate(chunk):
      out[r * tile * scale:(r + 1) * tile * scale, c * tile * scale:(c + 1) * tile * scale] = result[i, keep, keep]
  return out[:height * scale, :width * scale]


# ---------------------------------------------------------------- trained models

class RepairModel:
  """A trained inpainter or upscaler restored from a run directory."""

  def __init__(self, workdir: str, step: int | None = None):
    self.workdir = workdir
    self.config = workdir_lib.load_config(workdir)
    self.task_name = self.config.get("task", "gan")
    if self.task_name not in ("inpaint", "superres"):
      raise UserError(f"{workdir} holds a {self.task_name!r} run, not an image-repair one "
                      "(train with experiments.inpaint or experiments.srgan)")
    shape = element_shape(self.config.data)
    self.channels = shape[-1]
    self.task = make_task(self.config, shape)
    self.state = restore_state(workdir, self.task, self.config, step)
    self.step = int(self.state.step)
    if isinstance(self.task, InpaintTask):
      self._inpaint = jax.jit(self.task.inpaint)
    else:
      self._upscale = jax.jit(self.task.upscale)

  @property
  def scale(self) -> int:
    return self.task.scale if isinstance(self.task, SuperResTask) else 1

  def _check_channels(self, images: np.ndarray) -> None:
    if images.ndim != 4:
      raise UserError(f"images must be a batch (B, H, W, C), got shape {images.shape}")
    if images.shape[-1] != self.channels:
      raise UserError(f"images have {images.shape[-1]} channels but the model in {self.workdir} works on "
                      f"{self.channels}: convert them (read_image does) first")

  def inpaint(self, images, masks, batch_size: int = 16) -> np.ndarray:
    """Fills the masked pixels; every other pixel is returned unchanged (bit for bit).

    Args:
      images: uint8 [0, 255] or float [-1, 1], (B, H, W, C); any H, W (padded to a multiple
        of 4 by edge replication for the network, cropped back).
      masks: (B, H, W) or (B, H, W, 1); 1 / 255 / True = fill.
    Returns:
      (B, H, W, C) of the input's dtype.
    """
    if not isinstance(self.task, InpaintTask):
      raise UserError(f"{self.workdir} holds a super-resolution model: use upscale, not inpaint")
    original = np.asarray(images)
    self._check_channels(original)
    floats, as_uint8 = _to_float(original)
    holes = binarize_masks(masks, floats.shape)
    _, height, width, _ = floats.shape
    pad_h, pad_w = -height % 4, -width % 4
    out = []
    for i in range(0, len(floats), batch_size):
      x = np.pad(floats[i:i + batch_size], ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
      m = np.pad(holes[i:i + batch_size], ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
      out.append(np.asarray(self._inpaint(self.state, jnp.asarray(x), jnp.asarray(m)))[:, :height, :width])
    result = _from_float(np.concatenate(out), as_uint8)
    # Known pixels come from the input itself, so they survive the float round trip exactly.
    return np.where(holes.astype(bool), result, original)

  def upscale(self, images, scale: int | None = None, tile: int = 64, overlap: int | None = None,
              tile_batch: int = 4) -> np.ndarray:
    """Upscales (B, h, w, C) uint8/float images by the trained scale, tile by tile.

    `scale`, when given, must be the one the model was trained for. `overlap`
    defaults to the generator's receptive radius (tiled == untiled).
    Returns (B, scale*h, scale*w, C) of the input's dtype.
    """
    if not isinstance(self.task, SuperResTask):
      raise UserError(f"{self.workdir} holds an inpainting model: use inpaint, not upscale")
    if scale is not None and scale != self.task.scale:
      raise UserError(f"the model in {self.workdir} was trained for x{self.task.scale}, not x{scale}: "
                      f"use --scale={self.task.scale} or train a x{scale} model (--config.model.scale={scale})")
    original = np.asarray(images)
    self._check_channels(original)
    floats, as_uint8 = _to_float(original)
    overlap = self.task.generator.receptive_radius if overlap is None else overlap
    fn = lambda tiles: self._upscale(self.state, jnp.asarray(tiles))
    out = np.stack([upscale_tiled(fn, image, self.task.scale, tile, overlap, tile_batch) for image in floats])
    return _from_float(out, as_uint8)


def load(workdir: str, step: int | None = None) -> RepairModel:
  return RepairModel(workdir, step)
