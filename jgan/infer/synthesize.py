"""A labelled synthetic dataset from a trained (class-conditional) run: GANs as data augmentation.

    sampler = jgan.infer.sampling.load("runs/cgan")
    synthesize(sampler, num=9000, out="synth.npz", labels="balanced", seed=0)

Formats (`--format`, or from the name: `.npz` -> npz, anything else -> folder):
  npz     `images` uint8 (N, H, W, C), `labels` int32 (N,) (-1 for an unconditional run), `num_classes`
  folder  OUT/<label>/<index>.png, class folders zero-padded so that their sorted order is the label order
          (the folder source numbers the classes present 0, 1, ...: exact labels only when all are present)
  tfds    a prepared tfds dataset directory (ArrayRecord, `jgan.data.tfds_builders.ArrayDataset`, split `train`)
          that `tfds.builder_from_directory(OUT)` and `config.data.source=OUT` read back

Every format gets a provenance record (run, step, the run's config, seed, labels, truncation, jgan version,
SHA-256 of the pixels): OUT/provenance.json for folder and tfds, OUT's stem + `.provenance.json` for npz.

Samples are drawn in chunks of `CHUNK`; chunk i uses `fold_in(named(key(seed), "synthesize"), i)`, so the
dataset depends on the seed alone, and a killed run resumes from the chunks already in OUT.partial/.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

import jax
import numpy as np

from jgan import config as config_lib
from jgan.core import rng
from jgan.core.errors import UserError
from jgan.data import images as image_lib
from jgan.eval.provenance import array_sha256, environment

CHUNK = 1000
FORMATS = ("npz", "folder", "tfds")


def out_format(out: str, fmt: str = "auto") -> str:
  """The format of `out`: `fmt` unless "auto", then npz for a `.npz` name and folder otherwise."""
  if fmt == "auto":
    return "npz" if out.lower().endswith(".npz") else "folder"
  if fmt not in FORMATS:
    raise UserError(f"--format={fmt}: use auto, {', '.join(FORMATS)}")
  if (fmt == "npz") != out.lower().endswith(".npz"):
    raise UserError(f"--out={out} with --format={fmt}: an npz goes to a name ending in .npz, a folder or tfds "
                    "dataset to a directory name")
  return fmt


def provenance_path(out: str, fmt: str) -> str:
  return f"{os.path.splitext(out)[0]}.provenance.json" if fmt == "npz" else os.path.join(out, "provenance.json")


def check_out(out: str, fmt: str) -> None:
  """A one-line UserError unless `out` can be written (before any sampling)."""
  if not out:
    raise UserError("--out is required: a .npz file or a directory")
  parent = os.path.dirname(os.path.abspath(out))
  try:
    os.makedirs(parent, exist_ok=True)
  except OSError as e:
    raise UserError(f"--out={out}: cannot create the folder {parent}: {e.strerror or e}") from None
  if not os.access(parent, os.W_OK):
    raise UserError(f"--out={out}: the folder {parent} is not writable")
  if fmt == "npz" and os.path.isdir(out):
    raise UserError(f"--out={out} is a folder: give a file name ending in .npz")
  if os.path.exists(out) and not os.path.isfile(provenance_path(out, fmt)):
    raise UserError(f"--out={out} exists and is not a dataset written by experiments.synthesize: "
                    "choose another --out or delete it")


def parse_labels(spec: str | None, num_classes: int, workdir: str) -> list[int] | None:
  """`balanced` (or None) -> None (0..K-1 in turn), `k,...` -> those classes; errors in one line."""
  if spec is None or spec == "" or spec == "balanced":
    return None
  if not num_classes:
    raise UserError(f"--labels={spec}: {workdir} is an unconditional run: it takes no labels")
  try:
    labels = [int(v) for v in spec.split(",") if v.strip()]
  except ValueError:
    raise UserError(f"--labels={spec}: give balanced or class numbers, e.g. --labels=7 or --labels=0,1,2") from None
  if not labels or min(labels) < 0 or max(labels) >= num_classes:
    raise UserError(f"--labels={spec}: classes must lie in 0..{num_classes - 1} for {workdir}")
  return labels


def label_plan(num: int, labels: list[int] | None, num_classes: int) -> np.ndarray:
  """int32 (num,): the label of every example: the requested classes (or all K) in turn, so each gets
  num / len(classes) examples (the first ones one more when it does not divide); -1 when unconditional."""
  if not num_classes:
    return np.full(num, -1, np.int32)
  classes = np.arange(num_classes) if labels is None else np.asarray(labels, np.int32)
  return np.resize(classes, num).astype(np.int32)


def _write_json(path: str, record: dict) -> None:
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "w") as f:
    json.dump(record, f, indent=1, sort_keys=True)
  os.replace(tmp, path)


def _draw_chunks(sampler, plan: np.ndarray, seed: int, truncation: float, partial: str, request: dict,
                 chunk: int) -> np.ndarray:
  """uint8 (N, H, W, C): every chunk of `plan`, from partial/chunk_i.npz when an earlier run wrote it."""
  os.makedirs(partial, exist_ok=True)
  request_file = os.path.join(partial, "request.json")
  if os.path.isfile(request_file):
    with open(request_file) as f:
      earlier = json.load(f)
    if earlier != request:
      raise UserError(f"{partial} holds a synthesis with other settings ({_diff(earlier, request)}): rerun with "
                      "those or delete it")
  else:
    _write_json(request_file, request)
  key = rng.named(jax.random.key(seed), "synthesize")
  parts = []
  for i, start in enumerate(range(0, len(plan), chunk)):
    path = os.path.join(partial, f"chunk_{i:05d}.npz")
    labels = plan[start:start + chunk]
    if os.path.isfile(path):
      try:
        with np.load(path) as data:
          parts.append(data["images"])
        continue
      except (OSError, ValueError, KeyError, EOFError):
        pass   # a damaged chunk is drawn again
    images = sampler.sample(jax.random.fold_in(key, i), len(labels),
                            labels=None if labels[0] < 0 else labels, truncation=truncation)
    tmp = f"{path}.tmp{os.getpid()}.npz"
    np.savez(tmp, images=images)
    os.replace(tmp, path)   # a chunk exists whole or not at all
    parts.append(images)
    print(f"synthesize: {min(start + chunk, len(plan))}/{len(plan)}", flush=True)
  return np.concatenate(parts)


def _diff(a: dict, b: dict) -> str:
  return ", ".join(f"{k}: {a.get(k)!r} there, {b.get(k)!r} now" for k in sorted(set(a) | set(b))
                   if a.get(k) != b.get(k))


def write_folder(images: np.ndarray, labels: np.ndarray, num_classes: int, out: str) -> None:
  """OUT/<label>/<index>.png (zero-padded), or OUT/<index>.png when unlabelled."""
  width = len(str(max(num_classes - 1, 0)))
  digits = len(str(len(images) - 1))
  for index, (image, label) in enumerate(zip(images, labels)):
    folder = out if label < 0 else os.path.join(out, f"{label:0{width}d}")
    image_lib.save_png(os.path.join(folder, f"{index:0{digits}d}.png"), image)


def write_tfds(images: np.ndarray, labels: np.ndarray, num_classes: int, out: str, description: str) -> None:
  """A prepared tfds dataset in directory `out` (the version directory: dataset_info.json, ArrayRecord files)."""
  from jgan.data.tfds_builders import ArrayDataset
  with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(out))) as data_dir:
    builder = ArrayDataset(images, labels, num_classes, description, data_dir=data_dir, file_format="array_record")
    builder.download_and_prepare()
    shutil.move(builder.data_dir, out)


def synthesize(sampler, num: int, out: str, fmt: str = "auto", labels: str | None = None, seed: int = 0,
               truncation: float = 0.0, chunk: int = CHUNK) -> dict:
  """Writes `num` samples of `sampler` with their labels to `out`; returns the provenance record.

  `chunk`: samples per resumable piece (part of the request: another chunk size draws other latents).
  """
  fmt = out_format(out, fmt)
  if num < 1:
    raise UserError(f"--num={num} must be positive")
  check_out(out, fmt)
  num_classes = sampler.gan.num_classes or 0
  plan = label_plan(num, parse_labels(labels, num_classes, sampler.workdir), num_classes)
  request = {"run": os.path.abspath(sampler.workdir), "step": sampler.step, "seed": seed, "num": num,
             "labels": labels or "balanced", "truncation": truncation, "chunk": chunk}
  if os.path.exists(out):
    with open(provenance_path(out, fmt)) as f:
      done = json.load(f)
    if {k: done.get(k) for k in request} == request and done.get("format") == fmt:
      print(f"{out} already holds this dataset", flush=True)
      return done
    raise UserError(f"--out={out} holds another synthetic dataset ({_diff(done, request)}): choose another --out "
                    "or delete it")
  partial = f"{out.rstrip(os.sep)}.partial"
  images = _draw_chunks(sampler, plan, seed, truncation, partial, request, chunk)
  counts = np.bincount(plan[plan >= 0], minlength=num_classes).tolist() if num_classes else []
  record = {**request, "format": fmt, "num_classes": num_classes, "class_counts": counts,
            "images_sha256": array_sha256(images), "shape": list(images.shape[1:]),
            "config": config_lib.flatten(sampler.config), **environment()}
  try:
    staging = os.path.join(partial, "out")
    shutil.rmtree(staging, ignore_errors=True)
    if fmt == "npz":
      tmp = f"{out}.tmp{os.getpid()}.npz"
      np.savez(tmp, images=images, labels=plan, num_classes=np.int64(num_classes))
      _write_json(provenance_path(out, fmt), record)
      os.replace(tmp, out)
    else:
      if fmt == "folder":
        write_folder(images, plan, num_classes, staging)
      else:
        write_tfds(images, plan, num_classes, staging,
                   f"{num} samples of the jgan run {request['run']} at step {sampler.step}, seed {seed}")
      _write_json(os.path.join(staging, "provenance.json"), record)
      os.replace(staging, out)   # the dataset appears whole
  except OSError as e:
    raise UserError(f"cannot write {out}: {e.strerror or e}") from None
  shutil.rmtree(partial, ignore_errors=True)
  return record
