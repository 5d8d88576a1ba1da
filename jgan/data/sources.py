"""Where training data comes from: one random-access `Source` per kind of input.

`open_source(data_config)` understands, in this order:
  * `mix:REAL,SYNTH@R`: REAL (any source below, read with `split`) and SYNTH (a synthetic dataset written by
    `experiments.synthesize`: `.npz`, class folders or a tfds directory) mixed so that a fraction R of the
    examples is synthetic (`mix_source`),
  * a path to a folder or a `.zip` of images (class subfolders give labels; a
    `train`/`test` subfolder named by `split` is used when present), a `.npz` with `images` uint8 NHWC and
    optional `labels`, or a tfds dataset directory (one holding `dataset_info.json`, read by
    `tfds.builder_from_directory`),
  * `ring8` / `grid25`, the synthetic 2D sets (see `jgan.data.toy`),
  * `mnist10k`, the 10,000 digits shipped inside jgan (built offline by tfds); `split` may also name the
    study split of `jgan.data.splits` (heldout, pool, pool:N),
  * any other name: a tensorflow-datasets dataset, downloaded once by tfds.

Every source yields uint8 images already at the model resolution and channel
count (resized so the short side fits, centre-cropped), or float32 points for
the toy sets, plus int32 labels (-1 where there are none). Scaling to [-1, 1]
happens later, on the device.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import os
import socket
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import ml_collections
import numpy as np
from PIL import Image

from jgan.core.errors import UserError
from jgan.data import embedded, splits, stacked, toy

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclasses.dataclass
class Source:
  """A random-access dataset.

  read(indices) returns {"x": (n, *element_shape) of `dtype`, "label": int32 (n,)}.
  """
  name: str
  length: int
  element_shape: tuple[int, ...]
  dtype: np.dtype
  num_classes: int  # 0 when unlabelled
  read: Callable[[np.ndarray], dict]
  fingerprint: str  # identifies the contents, for provenance and caches

  def read_all(self, chunk: int = 4096) -> dict:
    parts = [self.read(np.arange(i, min(i + chunk, self.length))) for i in range(0, self.length, chunk)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ---------------------------------------------------------------- image helpers

def to_8bit(image: Image.Image) -> Image.Image:
  """Images with more than 8 bits per sample -> mode L, scaled (not clipped) to 0..255.

  * `I;16`, `I;16B`, ... (16-bit PNG/TIFF): value / 257, rounded (0 -> 0, 65535 -> 255).
  * `I` (32-bit signed): Pillow gives this mode to 16-bit samples (older Pillow's 16-bit PNGs,
    many 16-bit TIFFs), so it is scaled like 16 bits: clipped to 0..65535, then / 257. Values
    beyond 16 bits, rare in image files, saturate at 255.
  * `F` (32-bit float): taken as 0..1 when its maximum is <= 1 (x 255), else as 0..255 (clipped);
    NaN becomes 0.
  Any other mode is returned as it is.
  """
  mode = image.mode
  if not (mode.startswith("I;16") or mode in ("I", "F")):
    return image
  values = np.asarray(image)
  with np.errstate(invalid="ignore", over="ignore"):
    if mode == "F":
      values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
      if values.size and values.max() <= 1.0:
        values = values * 255.0
      scaled = np.clip(np.round(values), 0, 255)
    else:
      scaled = np.round(np.clip(values.astype(np.float64), 0, 65535) / 257.0)
  return Image.fromarray(scaled.astype(np.uint8), "L")


_WITH_ALPHA = ("RGBA", "LA", "PA", "La", "RGBa")
_MAX_RESIZED_PIXELS = 1 << 26


def fit_image(image: Image.Image, resolution: int, channels: int) -> np.ndarray:
  """PIL image -> uint8 (resolution, resolution, channels): 8-bit scaling of 16/32-bit images,
  channel conversion, resize of the short side to `resolution` (bicubic), centre crop."""
  image = to_8bit(image)
  if image.mode in _WITH_ALPHA or (image.mode == "P" and "transparency" in image.info):
    # Transparent pixels become white, not black garbage.
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    image = Image.alpha_composite(background, image.convert("RGBA"))
  image = image.convert("L" if channels == 1 else "RGB")
  width, height = image.size
  if (width, height) != (resolution, resolution):
    scale = resolution / min(width, height)
    new_size = (max(resolution, round(width * scale)), max(resolution, round(height * scale)))
    left = (new_size[0] - resolution) // 2
    top = (new_size[1] - resolution) // 2
    if new_size[0] * new_size[1] <= _MAX_RESIZED_PIXELS:
      image = image.resize(new_size, Image.BICUBIC)
      image = image.crop((left, top, left + resolution, top + resolution))
    else:  # a sliver (1 x 10^7 pixels): scale only the centre, not a resized copy of it all
      box = (left / scale, top / scale, (left + resolution) / scale, (top + resolution) / scale)
      image = image.resize((resolution, resolution), Image.BICUBIC, box=box)
  array = np.asarray(image, dtype=np.uint8)
  return array[..., None] if channels == 1 else array


def decode_image(data: bytes, resolution: int, channels: int, name: str = "<bytes>") -> np.ndarray:
  """Encoded image bytes (PNG, JPEG, ...) -> uint8 (resolution, resolution, channels), or a UserError
  naming `name`: whatever the bytes, nothing else is raised."""
  try:
    with Image.open(io.BytesIO(data)) as image:
      image.load()
      return fit_image(image, resolution, channels)
  except Exception as e:  # noqa: BLE001 - Pillow raises many types (OSError, SyntaxError, struct.error, ...)
    if isinstance(e, Image.UnidentifiedImageError):
      reason = "not an image format Pillow knows, or damaged"
    else:
      reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
    raise UserError(f"cannot decode image {name}: {reason}") from None


def fit_array(image: np.ndarray, resolution: int, channels: int) -> np.ndarray:
  """uint8 (H, W, C) -> uint8 (resolution, resolution, channels)."""
  if image.shape[:2] == (resolution, resolution) and image.shape[-1] == channels:
    return image
  if image.shape[-1] == 1:
    pil = Image.fromarray(image[..., 0], "L")
  elif image.shape[-1] == 4:
    pil = Image.fromarray(image, "RGBA")
  else:
    pil = Image.fromarray(image[..., :3], "RGB")
  return fit_image(pil, resolution, channels)


# ---------------------------------------------------------------- folders and zips

@dataclasses.dataclass
class _ImageFiles:
  names: list[str]          # relative paths (folder) or member names (zip)
  labels: np.ndarray
  class_names: list[str]
  open_bytes: Callable[[str], bytes]
  where: str


def _labels_from_dirs(rel_paths: Sequence[str]) -> tuple[np.ndarray, list[str]]:
  """Class subfolders: every image one folder deep under the root -> label = folder."""
  parts = [p.split("/") for p in rel_paths]
  if parts and all(len(p) == 2 for p in parts):
    class_names = sorted({p[0] for p in parts})
    if len(class_names) > 1:
      index = {name: i for i, name in enumerate(class_names)}
      return np.array([index[p[0]] for p in parts], np.int32), class_names
  return np.full(len(rel_paths), -1, np.int32), []


def _choose_split_root(names: Sequence[str], split: str) -> str:
  """If the top level has a folder named after the split (train/test), use it."""
  tops = {n.split("/")[0] for n in names if "/" in n}
  return split + "/" if split in tops else ""


def _list_folder(root: str, split: str) -> _ImageFiles:
  names = []
  for directory, _, files in os.walk(root):
    for file in files:
      if file.lower().endswith(IMAGE_EXTENSIONS):
        names.append(os.path.relpath(os.path.join(directory, file), root).replace(os.sep, "/"))
  names.sort()
  prefix = _choose_split_root(names, split)
  names = [n[len(prefix):] for n in names if n.startswith(prefix)]
  labels, class_names = _labels_from_dirs(names)
  base = os.path.join(root, prefix)

  def open_bytes(name: str) -> bytes:
    with open(os.path.join(base, name), "rb") as f:
      return f.read()
  return _ImageFiles(names, labels, class_names, open_bytes, root)


def _list_zip(path: str, split: str) -> _ImageFiles:
  try:
    archive = zipfile.ZipFile(path)
  except (zipfile.BadZipFile, OSError) as e:
    raise UserError(f"cannot open zip {path}: {e}") from None
  names = sorted(n for n in archive.namelist() if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith("__MACOSX"))
  prefix = _choose_split_root(names, split)
  members = [n for n in names if n.startswith(prefix)]
  names = [n[len(prefix):] for n in members]
  labels, class_names = _labels_from_dirs(names)

  def open_bytes(name: str) -> bytes:
    return archive.read(prefix + name)
  return _ImageFiles(names, labels, class_names, open_bytes, path)


def _file_source(path: str, data_config) -> Source:
  if not os.path.exists(path):
    raise UserError(f"data source {path}: no such file or folder")
  if path.lower().endswith(".npz"):
    return _npz_source(path, data_config)
  if os.path.isfile(os.path.join(path, "dataset_info.json")):
    return _tfds_dir_source(path, data_config)
  if os.path.isdir(path):
    files = _list_folder(path, data_config.split)
  elif path.lower().endswith(".zip"):
    files = _list_zip(path, data_config.split)
  else:
    raise UserError(f"data source {path} is a file but not a .zip: give a folder or a zip of images")
  if not files.names:
    raise UserError(f"no images found in {path} (looked for {', '.join(IMAGE_EXTENSIONS)})")
  resolution, channels = data_config.resolution, data_config.channels

  def decode(name: str) -> np.ndarray | UserError:
    try:
      try:
        data = files.open_bytes(name)
      except (OSError, zipfile.BadZipFile, RuntimeError, ValueError) as e:  # unreadable file or zip member
        raise UserError(f"cannot read image {os.path.join(files.where, name)}: {e}") from None
      return decode_image(data, resolution, channels, os.path.join(files.where, name))
    except UserError as e:
      return e

  pool = ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1)))

  def read(indices: np.ndarray) -> dict:
    names = [files.names[i] for i in indices]
    images = list(pool.map(decode, names))
    bad = [name for name, image in zip(names, images) if isinstance(image, UserError)]
    if bad:
      first = next(image for image in images if isinstance(image, UserError))
      others = f"; {len(bad) - 1} more cannot be decoded either: {', '.join(bad[1:6])}" if len(bad) > 1 else ""
      more = f" and {len(bad) - 6} more" if len(bad) > 6 else ""
      raise UserError(f"{first}{others}{more} (remove or replace {'them' if len(bad) > 1 else 'it'})")
    return {"x": np.stack(images), "label": files.labels[indices]}

  listing = "\n".join(files.names).encode()
  size = os.path.getsize(path) if os.path.isfile(path) else ""
  fingerprint = hashlib.sha256(listing + f"{size}".encode()).hexdigest()[:16]
  return Source(name=os.path.abspath(path), length=len(files.names), element_shape=(resolution, resolution, channels),
                dtype=np.dtype(np.uint8), num_classes=len(files.class_names), read=read, fingerprint=fingerprint)


# ---------------------------------------------------------------- tfds

def _data_dir(data_config) -> str | None:
  return os.path.expanduser(data_config.data_dir) if data_config.data_dir else None


def _can_reach(host: str = "storage.googleapis.com", port: int = 443, timeout: float = 1.5) -> bool:
  try:
    with socket.create_connection((host, port), timeout=timeout):
      return True
  except OSError:
    return False


def _tfds_builder(data_config):
  import tensorflow_datasets as tfds
  name = data_config.source
  if name == embedded.NAME:
    from jgan.data.tfds_builders import Mnist10k
    return Mnist10k(data_dir=_data_dir(data_config), file_format="array_record")
  try:
    return tfds.builder(name, data_dir=_data_dir(data_config), file_format="array_record")
  except tfds.core.registered.DatasetNotFoundError:
    raise UserError(
        f"unknown dataset {name!r}: not a folder or .zip, not ring8/grid25, not the embedded "
        f"{embedded.NAME}, and not a tensorflow-datasets name") from None


def _prepare(builder, data_config) -> None:
  if builder.is_prepared():
    return
  name = data_config.source
  if name != embedded.NAME and not _can_reach():
    # tfds would retry for minutes before giving up; fail in a second instead.
    raise UserError(
        f"tfds dataset {name!r} is not in {builder.data_dir} and there is no network to download it: "
        f"use the embedded {embedded.NAME!r}, or a folder/zip of images via --config.data.source=PATH")
  try:
    builder.download_and_prepare()
  except ModuleNotFoundError as e:
    raise UserError(f"preparing tfds dataset {name!r} needs {e.name} once: pip install tensorflow-cpu, "
                    "or point --config.data.source at a folder/zip of images") from None


def _feature_keys(builder) -> tuple[str, str | None]:
  features = builder.info.features
  supervised = builder.info.supervised_keys
  image_key = "image" if "image" in features else (supervised[0] if supervised else None)
  if image_key is None:
    raise UserError(f"tfds dataset {builder.name!r} has no 'image' feature")
  label_key = "label" if "label" in features else (supervised[1] if supervised else None)
  return image_key, label_key


def _tfds_source(data_config) -> Source:
  builder = _tfds_builder(data_config)
  _prepare(builder, data_config)
  return _builder_source(builder, data_config, data_config.source)


def _tfds_dir_source(path: str, data_config) -> Source:
  """A prepared tfds dataset directory (`.../NAME/VERSION` with `dataset_info.json`), e.g. one written by
  `experiments.synthesize --format=tfds`."""
  import tensorflow_datasets as tfds
  try:
    builder = tfds.builder_from_directory(path)
  except Exception as e:  # noqa: BLE001 - tfds raises many types for a damaged or foreign directory
    raise UserError(f"cannot read the tfds dataset directory {path}: {str(e).strip().splitlines()[0][:200]}") from None
  return _builder_source(builder, data_config, os.path.abspath(path), directory=True)


def _builder_source(builder, data_config, name: str, directory: bool = False) -> Source:
  try:
    records = builder.as_data_source(split=data_config.split)
  except (ValueError, KeyError) as e:
    raise UserError(f"tfds dataset {name!r} has no split {data_config.split!r}: {e}") from None
  image_key, label_key = _feature_keys(builder)
  num_classes = 0
  if label_key is not None and hasattr(builder.info.features[label_key], "num_classes"):
    num_classes = builder.info.features[label_key].num_classes
  elif name == embedded.NAME:
    num_classes = embedded.NUM_CLASSES
  elif label_key is not None:   # a Tensor label (synthesized datasets record the class count in the metadata)
    num_classes = int((builder.info.metadata or {}).get("num_classes", 0))
  resolution, channels = data_config.resolution, data_config.channels

  def read(indices: np.ndarray) -> dict:
    items = records.__getitems__([int(i) for i in indices])
    images = np.stack([fit_array(np.asarray(item[image_key]), resolution, channels) for item in items])
    labels = (np.array([int(item[label_key]) for item in items], np.int32)
              if label_key else np.full(len(items), -1, np.int32))
    return {"x": images, "label": labels}

  fingerprint = f"tfds:{builder.name}:{builder.version}:{data_config.split}"
  if name == embedded.NAME:
    fingerprint += ":" + embedded.embedded_sha256()[:16]
  elif directory:   # its files identify it
    fingerprint += ":" + hashlib.sha256(str(sorted(
        (f, os.path.getsize(os.path.join(name, f))) for f in os.listdir(name))).encode()).hexdigest()[:16]
  return Source(name=name, length=len(records), element_shape=(resolution, resolution, channels),
                dtype=np.dtype(np.uint8), num_classes=num_classes, read=read, fingerprint=fingerprint)


# ---------------------------------------------------------------- arrays: .npz files, the embedded study split

def array_source(name: str, images: np.ndarray, labels: np.ndarray | None, num_classes: int, data_config,
                 fingerprint: str) -> Source:
  """In-memory uint8 images (N, H, W[, C]) and int labels (N,) (None: unlabelled), fitted to the config's
  resolution and channel count on read."""
  if images.ndim == 3:
    images = images[..., None]
  labels = np.full(len(images), -1, np.int32) if labels is None else np.asarray(labels, np.int32)
  resolution, channels = data_config.resolution, data_config.channels

  def read(indices: np.ndarray) -> dict:
    return {"x": np.stack([fit_array(images[i], resolution, channels) for i in indices]), "label": labels[indices]}
  return Source(name=name, length=len(images), element_shape=(resolution, resolution, channels),
                dtype=np.dtype(np.uint8), num_classes=num_classes, read=read, fingerprint=fingerprint)


def _npz_source(path: str, data_config) -> Source:
  """`images` uint8 (N, H, W, C) or (N, H, W), optional `labels` int (N,) and `num_classes` (what
  `experiments.synthesize` and `experiments.sample` write)."""
  try:
    with np.load(path) as data:
      arrays = {k: data[k] for k in data.files if k in ("images", "labels", "num_classes")}
  except Exception as e:  # noqa: BLE001 - a truncated, pickled or foreign file
    raise UserError(f"cannot read {path}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else e!r}") from None
  images = arrays.get("images")
  if images is None or images.dtype != np.uint8 or images.ndim not in (3, 4) or not len(images):
    raise UserError(f"{path} must hold `images`: uint8 (N, H, W, C) with N > 0")
  labels = arrays.get("labels")
  if labels is not None and labels.shape != (len(images),):
    raise UserError(f"{path}: `labels` has shape {labels.shape}, expected ({len(images)},)")
  num_classes = int(arrays["num_classes"]) if "num_classes" in arrays else (
      int(labels.max()) + 1 if labels is not None and labels.max() >= 0 else 0)
  with open(path, "rb") as f:
    fingerprint = hashlib.sha256(f.read()).hexdigest()[:16]
  return array_source(os.path.abspath(path), images, labels, num_classes, data_config, fingerprint)


def _embedded_split_source(data_config) -> Source:
  """mnist10k restricted to a study split (jgan.data.splits), read from the packaged arrays (whose indices
  define the split; tfds shuffles its records)."""
  images, labels = embedded.load_embedded_arrays()
  indices = splits.split_indices(str(data_config.split), labels, embedded.NUM_CLASSES)
  fingerprint = f"{embedded.NAME}:{data_config.split}:{embedded.embedded_sha256()[:16]}"
  return array_source(f"{embedded.NAME}:{data_config.split}", images[indices], labels[indices], embedded.NUM_CLASSES,
                      data_config, fingerprint)


# ---------------------------------------------------------------- real + synthetic mixtures

MIX_PREFIX = "mix:"


def parse_mix(spec: str) -> tuple[str, str, float]:
  """"mix:REAL,SYNTH@R" -> (REAL, SYNTH, R); a one-line UserError when malformed."""
  usage = (f"config.data.source={spec!r}: write mix:REAL,SYNTH@R, e.g. mix:mnist10k,synth.npz@0.5 "
           "(R: the fraction of synthetic examples, in (0, 1))")
  body, _, ratio = spec[len(MIX_PREFIX):].rpartition("@")
  real, _, synth = body.rpartition(",")
  try:
    ratio_value = float(ratio)
  except ValueError:
    raise UserError(usage) from None
  if not real or not synth or not 0.0 < ratio_value < 1.0:
    raise UserError(usage)
  return real, synth, ratio_value


def mix_counts(num_real: int, num_synth: int, ratio: float) -> tuple[int, int]:
  """(real slots, synthetic slots) of a mixture: the smallest set in which a fraction `ratio` is synthetic
  and every example of both sets appears at least once (the smaller set is cycled)."""
  total = max(math.ceil(num_real / (1.0 - ratio)), math.ceil(num_synth / ratio))
  synth_slots = round(total * ratio)
  return total - synth_slots, synth_slots


def mix_source(data_config, seed: int = 0) -> Source:
  """REAL and SYNTH of `mix:REAL,SYNTH@R` as one source: slot i < real slots reads REAL[i mod n_real], the
  rest SYNTH[j mod n_synth]. The feeders' per-epoch permutation then gives batches that are synthetic in a
  fraction R on average, exactly R over an epoch (up to rounding)."""
  real_name, synth_name, ratio = parse_mix(str(data_config.source))
  real_config = ml_collections.ConfigDict(data_config.to_dict())
  real_config.source = real_name
  synth_config = ml_collections.ConfigDict(data_config.to_dict())
  synth_config.source, synth_config.split = synth_name, "train"
  real, synth = open_source(real_config, seed), open_source(synth_config, seed)
  for part in (real, synth):
    if part.dtype != np.uint8:
      raise UserError(f"mix: {part.name} is not an image set")
  num_real_slots, num_synth_slots = mix_counts(real.length, synth.length, ratio)

  def read(indices: np.ndarray) -> dict:
    indices = np.asarray(indices)
    is_synth = indices >= num_real_slots
    out = {"x": np.empty((len(indices), *real.element_shape), np.uint8), "label": np.empty(len(indices), np.int32)}
    for mask, part, offset in ((~is_synth, real, 0), (is_synth, synth, num_real_slots)):
      if mask.any():
        got = part.read((indices[mask] - offset) % part.length)
        out["x"][mask], out["label"][mask] = got["x"], got["label"]
    return out
  fingerprint = hashlib.sha256(f"{real.fingerprint}|{synth.fingerprint}|{ratio}".encode()).hexdigest()[:16]
  return Source(name=str(data_config.source), length=num_real_slots + num_synth_slots,
                element_shape=real.element_shape, dtype=np.dtype(np.uint8),
                num_classes=max(real.num_classes, synth.num_classes), read=read, fingerprint=fingerprint)


# ---------------------------------------------------------------- toy 2D

def _toy_source(data_config, seed: int) -> Source:
  points, modes = toy.sample_toy(data_config.source, data_config.num_points, seed)

  def read(indices: np.ndarray) -> dict:
    return {"x": points[indices], "label": modes[indices]}
  return Source(name=data_config.source, length=len(points), element_shape=(2,), dtype=np.dtype(np.float32),
                num_classes=0, read=read, fingerprint=f"{data_config.source}:{data_config.num_points}:{seed}")


def is_path(source: str) -> bool:
  return os.sep in source or "/" in source or source.lower().endswith(".zip") or os.path.exists(source)


def open_source(data_config, seed: int = 0) -> Source:
  """The `Source` named by `data_config.source` (see module docstring)."""
  source = str(data_config.source)
  if not source:
    raise UserError("config.data.source is empty: name a dataset, a folder or a .zip")
  if source.startswith(MIX_PREFIX):
    return mix_source(data_config, seed)
  if source in toy.TOY_DATASETS:
    return _toy_source(data_config, seed)
  if source == embedded.NAME and str(data_config.split) != "train":
    return _embedded_split_source(data_config)
  if source == stacked.NAME:
    return Source(dtype=np.dtype(np.uint8), **stacked.stacked_dataset(data_config, seed))
  if is_path(source):
    return _file_source(os.path.expanduser(source), data_config)
  return _tfds_source(data_config)


def open_tfds_source(data_config) -> Source:
  """The tensorflow-datasets dataset `data_config.source` (or the embedded mnist10k), even a name
  with a '/' (a builder config, e.g. cycle_gan/horse2zebra) that `open_source` would take for a path."""
  return _tfds_source(data_config)
