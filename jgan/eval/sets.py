"""Image sets to evaluate: arrays, `.npz` files, folders, zips and dataset names.

`load_images(spec, ...)` returns uint8 (N, H, W, C) images and an identity
record {"name", "sha256" of the decoded pixels, "num", ...}. A `.npz` must hold
`images` uint8 NHWC (what `python -m experiments.sample --out=x.npz` writes);
folders, zips and dataset names go through `jgan.data.sources` (resized and
centre-cropped to `resolution`, converted to `channels`).
"""
from __future__ import annotations

import io
import os
import sys

import ml_collections
import numpy as np
from PIL import Image

from jgan.core.errors import UserError
from jgan.data import embedded, sources, toy
from jgan.eval.provenance import array_sha256


def _data_config(source: str, resolution: int, channels: int, split: str, data_dir: str):
  config = ml_collections.ConfigDict()
  config.source, config.resolution, config.channels = source, resolution, channels
  config.split, config.data_dir, config.num_points = split, data_dir, 0
  return config


def native_shape(spec: str, split: str = "train") -> tuple[int, int]:
  """(resolution, channels) of a set's first image, when nothing else says how to read it."""
  if spec == embedded.NAME:
    return 28, 1
  path = os.path.expanduser(spec)
  if os.path.isdir(path) or path.lower().endswith(".zip"):
    files = sources._list_folder(path, split) if os.path.isdir(path) else sources._list_zip(path, split)
    if not files.names:
      raise UserError(f"no images found in {spec}")
    try:
      with Image.open(io.BytesIO(files.open_bytes(files.names[0]))) as image:
        grey = image.mode in ("1", "L", "LA", "La", "I", "F") or image.mode.startswith("I;16")
        return min(image.size), (1 if grey else 3)
    except Exception as e:  # noqa: BLE001 - Pillow raises many types for a damaged file
      raise UserError(f"cannot decode image {os.path.join(str(files.where), files.names[0])}: {e}") from None
  raise UserError(f"cannot tell the image size of {spec!r}: pass --resolution and --channels")


def load_images(spec, *, resolution: int = 0, channels: int = 0, split: str = "train", num: int | None = None,
                seed: int = 0, data_dir: str = "", what: str = "images") -> tuple[np.ndarray, dict]:
  """(uint8 (N, H, W, C), identity) for `spec`: an array, `.npz`, folder, `.zip` or dataset name.

  `num` takes a seeded random subset (all when None or >= the set size).
  """
  if isinstance(spec, np.ndarray):
    images, identity = spec, {"name": "<array>"}
  elif isinstance(spec, str) and spec.lower().endswith(".npz"):
    if not os.path.isfile(spec):
      raise UserError(f"{what} {spec}: no such file")
    try:
      with np.load(spec, allow_pickle=False) as data:
        if "images" not in data.files:
          raise UserError(f"{what} {spec} has no `images` array (it has {', '.join(data.files) or 'nothing'}): "
                          "write uint8 NHWC images under the key `images`")
        images = data["images"]
    except UserError:
      raise
    except Exception as e:  # noqa: BLE001 - an object (pickled) array, a truncated or foreign file
      reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
      if "allow_pickle" in reason:
        reason = "it holds Python objects (a pickled object array), not uint8 images"
      raise UserError(f"{what} {spec} cannot be read as an .npz of images: {reason}") from None
    identity = {"name": os.path.abspath(spec)}
  elif isinstance(spec, str) and spec:
    if spec in toy.TOY_DATASETS:
      raise UserError(f"{spec} is a 2D point set, not images: score toy runs with jgan.metrics.modes")
    if not resolution or not channels:
      native = native_shape(spec, split)
      resolution, channels = resolution or native[0], channels or native[1]
    elif spec == embedded.NAME or os.path.isdir(os.path.expanduser(spec)) or spec.lower().endswith(".zip"):
      native = native_shape(spec, split)
      if native != (resolution, channels):  # say so: converting digits to colour (or back) changes every score
        print(f"note: {what} {spec} holds {native[0]}px {native[1]}-channel images; reading them at "
              f"{resolution}x{resolution}x{channels} to match the other set", file=sys.stderr, flush=True)
    source = sources.open_source(_data_config(spec, resolution, channels, split, data_dir), seed)
    indices = np.arange(source.length)
    if num is not None and num < source.length:
      indices = np.sort(np.random.default_rng(seed).choice(source.length, num, replace=False))
    chunks = [source.read(indices[i:i + 2048])["x"] for i in range(0, len(indices), 2048)]
    images = np.concatenate(chunks) if chunks else np.zeros((0, resolution, resolution, channels), np.uint8)
    identity = {"name": source.name, "split": split, "fingerprint": source.fingerprint, "size": source.length}
    num = None  # already subsampled
  else:
    raise UserError(f"{what}: give an .npz, a folder, a .zip or a dataset name, not {spec!r}")
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise UserError(f"{what}: expected uint8 images, got dtype {images.dtype}")
  if images.ndim == 3:
    images = images[..., None]  # (N, H, W) grayscale
  if images.ndim != 4:
    raise UserError(f"{what}: expected images of shape (N, H, W, C), got {images.shape}")
  if images.shape[0] == 0:
    raise UserError(f"{what} is empty")
  if num is not None and num < images.shape[0]:
    images = images[np.sort(np.random.default_rng(seed).choice(images.shape[0], num, replace=False))]
  identity.update(num=int(images.shape[0]), shape=list(images.shape[1:]), sha256=array_sha256(images))
  return images, identity
