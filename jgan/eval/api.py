"""Scoring image sets: the Python API behind `python -m experiments.evaluate`.

    from jgan import eval as jeval
    result = jeval.evaluate(images, "mnist10k", metrics=("fid", "kid", "pr"), extractor="lenet-mnist")
    result["scores"]["fid"], result["provenance"]
    result = jeval.evaluate_run("runs/dcgan", metrics=("fid",), num=10000)

Metric names:
  fid            Fréchet distance (jgan.metrics.fid)
  kid            kid, kid_std (jgan.metrics.kid)
  pr             precision, recall, k = 3 (jgan.metrics.precision_recall)
  dc             density, coverage, k = 5
  is             Inception Score, is, is_std (needs class logits; no reference needed)
  class_kl       KL(class histogram of the images || that of the reference), from the extractor's logits
  confident      fraction of images the extractor's classifier gives >= 0.9 probability, and the rarest /
                 commonest class share among those (lenet-mnist: is it a clear digit, which digits)
  stacked_mnist  modes, kl over the 1000 Stacked-MNIST modes (28x28x3 images; always lenet-mnist)
  code_purity    how cleanly each value of a run's class code (InfoGAN's, or a cGAN's label) draws one digit:
                 code_purity, code_purity_min, code_classes, and per value its digit and share
                 (jgan.metrics.classes.code_purity; lenet-mnist; several codes: each against the channel
                 it draws best, code_channels; a run's samples only: it needs the codes they were drawn with)

Reference features are cached under `<cache>/reference/` (see
`jgan.features.weights.cache_dir`), keyed by the extractor's provenance and
the SHA-256 of the reference pixels, and written atomically.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jgan import features as features_lib
from jgan.core import rng
from jgan.core.errors import UserError
from jgan.eval import provenance, sets
from jgan.features import weights as weights_lib
from jgan.metrics import classes, inception_score, precision_recall, stacked_mnist
from jgan.metrics import fid as fid_lib
from jgan.metrics import kid as kid_lib
from jgan.models.layers import code_digits

METRICS = ("fid", "kid", "pr", "dc", "is", "class_kl", "confident", "stacked_mnist", "code_purity")
_NEEDS_REFERENCE = {"fid", "kid", "pr", "dc", "class_kl"}
_NEEDS_LOGITS = {"is", "class_kl", "confident"}
PR_K = 3
DC_K = 5


def parse_metrics(metrics) -> tuple[str, ...]:
  names = [m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()]
  if not names:
    raise UserError(f"no metrics given: choose from {', '.join(METRICS)}")
  for name in names:
    if name not in METRICS:
      raise UserError(f"unknown metric {name!r}: choose from {', '.join(METRICS)}")
  return tuple(dict.fromkeys(names))


def _cache_key(extractor, identity: dict) -> str:
  # The weights' content hash, not their file: the same weights from a .pt or its converted .npz share entries.
  what = {k: v for k, v in extractor.provenance().items() if k != "weights_source"}
  record = json.dumps({"extractor": what, "reference_sha256": identity["sha256"]}, sort_keys=True)
  return hashlib.sha256(record.encode()).hexdigest()[:32]


def reference_features(extractor, images: np.ndarray, identity: dict, cache: bool = True,
                       batch_size: int | None = None) -> dict:
  """{"features", "mu", "sigma"[, "logits"]} of a reference set, from the cache when there."""
  path = os.path.join(weights_lib.cache_dir(), "reference", f"{_cache_key(extractor, identity)}.npz")
  if cache and os.path.isfile(path):
    try:
      with np.load(path) as data:
        return {k: data[k] for k in data.files if k != "provenance"}
    except (OSError, ValueError, EOFError):
      pass  # a damaged cache entry is recomputed and overwritten
  out = extractor(images, batch_size=batch_size)
  if images.shape[0] >= 2:
    out["mu"], out["sigma"] = fid_lib.gaussian_stats(out["features"])
  if cache:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}.npz"
    record = json.dumps({"extractor": extractor.provenance(), "reference": identity})
    np.savez(tmp, provenance=np.array(record), **out)
    os.replace(tmp, path)  # readers see the old file or the whole new one
  return out


def _class_ids(logits: np.ndarray) -> np.ndarray:
  return np.argmax(logits, axis=1)


def feature_metrics(metrics) -> list[str]:
  """The metrics computed from a feature extractor's outputs (all but stacked_mnist and code_purity, which
  read lenet-mnist per channel and need no reference)."""
  return [m for m in metrics if m not in ("stacked_mnist", "code_purity")]


def stacked_mnist_scores(images: np.ndarray, batch_size: int | None = None) -> dict:
  """Stacked-MNIST mode scores of uint8 (N, 28 or 32, ., 3) images, each channel read by lenet-mnist (no
  reference set: the 1000 modes are uniform by construction)."""
  lenet = features_lib.get("lenet-mnist")
  return stacked_mnist.stacked_mnist_metrics(
      images, lambda x: _class_ids(lenet(x, batch_size=batch_size, with_logits=True)["logits"]))


def code_purity_scores(images: np.ndarray, labels, num_classes: int, code_groups: int = 1,
                       batch_size: int | None = None) -> dict:
  """`jgan.metrics.classes.code_purity` of uint8 (N, H, W, C) samples that a G drew with the int (N,) `labels`
  of its num_classes-way class code, split into `code_groups` independent codes, one per channel (Stacked
  MNIST: three 10-way codes); lenet-mnist reads each channel's digit.

  Nothing ties code g to channel g (Q reads every code from the whole image), so with several codes each is
  read against the channel of the one-to-one matching that makes the codes purest on average; it is
  returned as "code_channels" (code g -> channel code_channels[g])."""
  images, labels = np.asarray(images), np.asarray(labels)
  base = round(num_classes ** (1.0 / code_groups)) if num_classes else 0
  if not num_classes or base ** code_groups != num_classes:
    raise UserError(f"code_purity needs a run that draws a class code (model.info_codes or model.num_classes); "
                    f"this one has {num_classes} classes in {code_groups} groups")
  if images.ndim != 4 or images.shape[-1] != code_groups or labels.shape != images.shape[:1]:
    raise UserError(f"code_purity reads one code per channel: got {code_groups} codes for images of shape "
                    f"{images.shape} and labels of shape {labels.shape}")
  lenet = features_lib.get("lenet-mnist")
  digits = stacked_mnist.channel_digits(
      images, lambda x: _class_ids(lenet(x, batch_size=batch_size, with_logits=True)["logits"]))
  codes = np.asarray(code_digits(jnp.asarray(labels), base, code_groups))
  if code_groups == 1:
    return classes.code_purity(codes[:, 0], digits[:, 0], base, lenet.num_classes)
  matchings = [list(order) for order in itertools.permutations(range(code_groups))]
  scored = [classes.code_purity(codes, digits[:, order], base, lenet.num_classes) for order in matchings]
  best = max(range(len(matchings)), key=lambda i: scored[i]["code_purity"])   # the first of any ties
  return {**scored[best], "code_channels": matchings[best]}


def score_features(metrics: Sequence[str], gen: dict, ref: dict | None, seed: int = 0,
                   num_classes: int = 0, kid_subsets: int = 100, kid_subset_size: int = 1000) -> dict:
  """Scores from extracted outputs: `gen`/`ref` hold "features" (N, D), optionally "logits", "mu", "sigma"."""
  scores: dict = {}
  for name in metrics:
    if name == "fid":
      mu, sigma = ref["mu"], ref["sigma"]
      mu_g, sigma_g = fid_lib.gaussian_stats(gen["features"])
      scores["fid"] = fid_lib.frechet_distance(mu_g, sigma_g, mu, sigma)
    elif name == "kid":
      scores.update(kid_lib.kid(gen["features"], ref["features"], kid_subsets, kid_subset_size, seed))
    elif name == "pr":
      scores.update(precision_recall.precision_recall(ref["features"], gen["features"], PR_K))
    elif name == "dc":
      scores.update(precision_recall.density_coverage(ref["features"], gen["features"], DC_K))
    elif name == "is":
      scores.update(inception_score.inception_score(gen["logits"], splits=min(10, len(gen["logits"]))))
    elif name == "confident":
      scores.update(classes.confident_shares(gen["logits"], num_classes))
    elif name == "class_kl":
      target = classes.class_histogram(_class_ids(ref["logits"]), num_classes)
      # Smooth the reference histogram a little so a class missing from a small reference is not infinite KL.
      target = (target * len(ref["logits"]) + 0.5) / (len(ref["logits"]) + 0.5 * num_classes)
      scores["class_kl"] = classes.class_kl(_class_ids(gen["logits"]), num_classes, target)
  return scores


def check_same_shape(gen_images: np.ndarray, ref_images: np.ndarray, images, reference) -> None:
  """Raises a UserError when the two sets differ in resolution or channels.

  The extractors resize and replicate channels, so mismatched sets still give a number (a FID of
  hundreds for digits against colour images of the same digits), never a meaningful one.
  """
  if gen_images.shape[1:] != ref_images.shape[1:]:
    def name(spec):
      return spec if isinstance(spec, str) else "the array"
    h, w, c = gen_images.shape[1:]
    rh, rw, rc = ref_images.shape[1:]
    raise UserError(f"--images {name(images)} are {h}x{w}x{c} but --ref {name(reference)} is {rh}x{rw}x{rc}: "
                    "score sets of the same resolution and channels (a folder, zip or dataset --ref is read at "
                    "the size of --images; an .npz is used as it is)")


def evaluate(images, reference=None, metrics=("fid",), extractor: str = "inception", weights: str | None = None,
             num: int | None = None, num_reference: int | None = None, seed: int = 0,
             batch_size: int | None = None, cache: bool = True, resolution: int = 0, channels: int = 0,
             reference_split: str = "train", data_dir: str = "", kid_subsets: int = 100,
             kid_subset_size: int = 1000, images_split: str = "train", codes: dict | None = None) -> dict:
  """Scores `images` against `reference`; returns {"scores": {...}, "provenance": {...}}.

  Args:
    images, reference: uint8 (N, H, W, C) arrays, `.npz` paths, folders, zips or dataset names.
      The reference is read at the images' resolution and channel count unless given.
    metrics: names from `METRICS` (a list or a comma-separated string).
    extractor: "inception" or "lenet-mnist"; `weights` overrides its weights file.
    num, num_reference: seeded random subsets (None: all).
    images_split, reference_split: the split read from a folder/zip/dataset (for the embedded digits also
      "heldout", the 1,000 lenet-mnist never saw, and "pool", the other 9,000: jgan.data.splits).
    codes: for code_purity, {"labels": int (N,), "num_classes", "code_groups"}: the class code each of the
      images was drawn with (`evaluate_run` passes its samples' codes).
  """
  start = time.time()
  metrics = parse_metrics(metrics)
  gen_images, gen_identity = sets.load_images(images, resolution=resolution, channels=channels, split=images_split,
                                              num=num, seed=seed, data_dir=data_dir, what="--images")
  result: dict = {"scores": {}}
  extracted = feature_metrics(metrics)
  record = {"metrics": list(metrics), "seed": seed, "num_samples": int(gen_images.shape[0]), "images": gen_identity}
  ref_images = None
  if any(m in _NEEDS_REFERENCE for m in extracted):
    if reference is None:
      raise UserError(f"{', '.join(m for m in extracted if m in _NEEDS_REFERENCE)} need a reference set "
                      "(--ref=PATH_OR_DATASET)")
    ref_images, ref_identity = sets.load_images(
        reference, resolution=resolution or gen_images.shape[1], channels=channels or gen_images.shape[-1],
        split=reference_split, num=num_reference, seed=seed, data_dir=data_dir, what="--ref")
    check_same_shape(gen_images, ref_images, images, reference)  # before minutes of feature extraction
  if "stacked_mnist" in metrics:
    result["scores"].update(stacked_mnist_scores(gen_images, batch_size))
    record["stacked_mnist_classifier"] = features_lib.get("lenet-mnist").provenance()
  if "code_purity" in metrics:
    if codes is None or num is not None:
      raise UserError("code_purity needs the class codes the images were drawn with: score a run "
                      "(--workdir=RUN), not an image set")
    result["scores"].update(code_purity_scores(gen_images, codes["labels"], codes["num_classes"],
                                               codes.get("code_groups", 1), batch_size))
    record["code_purity_classifier"] = features_lib.get("lenet-mnist").provenance()
  if extracted:
    ex = features_lib.get(extractor, weights)
    if any(m in _NEEDS_LOGITS for m in extracted) and not ex.num_classes:
      raise UserError(f"{', '.join(m for m in extracted if m in _NEEDS_LOGITS)} need class logits, which "
                      f"{ex.name} with these weights does not give (inception: use pytorch-fid's .pth)")
    ref = None
    gen = ex(gen_images, batch_size=batch_size)
    if ref_images is not None:
      ref = reference_features(ex, ref_images, ref_identity, cache=cache, batch_size=batch_size)
      record["reference"] = ref_identity
      record["num_reference"] = int(ref_images.shape[0])
    result["scores"].update(score_features(extracted, gen, ref, seed, ex.num_classes, kid_subsets,
                                           kid_subset_size))
    record.update(ex.provenance())
    if "kid" in extracted:
      record["kid"] = {"subsets": kid_subsets, "subset_size": kid_subset_size, "kernel": "(x.y/d+1)^3"}
    if "pr" in extracted or "dc" in extracted:
      record["nearest_neighbours"] = {"pr_k": PR_K, "dc_k": DC_K}
  record.update(provenance.environment())
  record["seconds"] = round(time.time() - start, 2)
  result["provenance"] = record
  return result


def default_extractor(data_config) -> str:
  """lenet-mnist for the MNIST data jgan knows, inception otherwise."""
  return "lenet-mnist" if str(data_config.source) in ("mnist10k", "mnist") else "inception"


def score_labels(task, metrics, num: int, key: jax.Array, batch_size: int | None = None) -> np.ndarray:
  """int (num,) the class codes to draw a conditional task's scored samples with.

  Stacked MNIST scores independent draws of G (the VEEGAN/PacGAN protocol): codes drawn uniformly at random,
  as in training (`rng.named(key, "labels")`). Every other metric takes the grid's labels (`shown_labels`, from
  0 in every batch of `batch_size` when given): each value equally often. With those, a G whose codes decide
  the modes would have every mode counted almost exactly 26 times in 26,000 samples, a KL below the ~0.019
  that 26,000 independent draws of a perfectly uniform G give, and so not comparable with the benchmark's
  figures or its real-data row."""
  if "stacked_mnist" in metrics:
    return np.asarray(task.fake_labels(rng.named(key, "labels"), num))
  if batch_size:
    return np.concatenate([np.asarray(task.shown_labels(min(batch_size, num - i))) for i in range(0, num, batch_size)])
  return np.asarray(task.shown_labels(num))


def evaluate_run(workdir: str, metrics=("fid",), num: int = 10000, seed: int = 0, step: int | None = None,
                 extractor: str | None = None, weights: str | None = None, num_reference: int | None = None,
                 batch_size: int | None = None, cache: bool = True) -> dict:
  """Samples `num` images from the run in `workdir` (newest checkpoint or `step`) and scores them
  against the run's training data."""
  from jgan.infer.sampling import load
  sampler = load(workdir, step)
  data = sampler.config.data
  if len(sampler.element_shape) == 1:
    raise UserError(f"{workdir} is a 2D toy run: score it with jgan.metrics.modes, not image metrics")
  gan = sampler.gan
  labels, codes = None, None
  if getattr(gan, "num_classes", 0):
    labels = score_labels(gan, parse_metrics(metrics), num, jax.random.key(seed))
    codes = {"labels": labels, "num_classes": gan.num_classes, "code_groups": getattr(gan, "code_groups", 1)}
  samples = sampler.sample(jax.random.key(seed), num, labels=labels)
  result = evaluate(samples, str(data.source), metrics, extractor or default_extractor(data), weights,
                    num_reference=num_reference, seed=seed, batch_size=batch_size, cache=cache,
                    resolution=data.resolution, channels=data.channels, reference_split=data.split,
                    data_dir=data.get("data_dir", ""), codes=codes)
  result["provenance"]["run"] = {"workdir": os.path.abspath(workdir), "step": sampler.step}
  result["provenance"]["images"]["name"] = f"samples of {os.path.abspath(workdir)} at step {sampler.step}"
  return result
