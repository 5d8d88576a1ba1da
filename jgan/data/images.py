"""Turning generator outputs into pictures: uint8 conversion, grids, PNG files."""
from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image


def to_uint8(images) -> np.ndarray:
  """float images in [-1, 1] (any shape) -> uint8 [0, 255], rounded."""
  images = np.asarray(images, np.float32)
  return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(images: np.ndarray, columns: int | None = None, pad: int = 2, pad_value: int = 0) -> np.ndarray:
  """uint8 (N, H, W, C) -> uint8 (rows*(H+pad)+pad, cols*(W+pad)+pad, C), row-major."""
  images = np.asarray(images)
  num, height, width, channels = images.shape
  columns = columns or max(1, int(math.ceil(math.sqrt(num))))
  rows = int(math.ceil(num / columns))
  grid = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad, channels), pad_value, np.uint8)
  for i, image in enumerate(images):
    r, c = divmod(i, columns)
    top, left = pad + r * (height + pad), pad + c * (width + pad)
    grid[top:top + height, left:left + width] = image
  return grid


def render_points(points: np.ndarray, reference: np.ndarray | None = None, size: int = 256,
                  extent: float | None = None) -> np.ndarray:
  """A scatter plot of 2D points as uint8 (size, size, 3): samples in blue, reference in red."""
  points = np.asarray(points, np.float64)
  if extent is None:
    both = points if reference is None else np.concatenate([points, reference])
    extent = float(np.max(np.abs(both))) * 1.15 + 1e-6 if both.size else 1.0
  canvas = np.full((size, size, 3), 255, np.uint8)

  def plot(xy, color):
    pix = np.round((xy / extent + 1) * 0.5 * (size - 1)).astype(int)
    keep = np.all((pix >= 0) & (pix < size), axis=1)
    pix = pix[keep]
    canvas[size - 1 - pix[:, 1], pix[:, 0]] = color

  if reference is not None:
    plot(np.asarray(reference, np.float64), (220, 40, 40))
  plot(points, (30, 60, 200))
  return canvas


def save_png(path: str, image: np.ndarray) -> None:
  """Writes uint8 (H, W, C) as PNG atomically (temporary file + rename)."""
  image = np.asarray(image)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}"
  try:
    Image.fromarray(image).save(tmp, format="PNG")
    os.replace(tmp, path)
  except BaseException:  # a full disk, a kill: the old file stays, the partial one goes
    remove_quietly(tmp)
    raise


def remove_quietly(path: str) -> None:
  """Deletes `path` if it exists; never raises (for cleaning up after a failed write)."""
  try:
    os.remove(path)
  except OSError:
    pass
