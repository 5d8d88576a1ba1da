"""Evaluation during training: scores every K steps, metric curves, the best checkpoint.

Enable it with a `config.eval` block (see `eval_config()`), e.g.

    config.eval = jgan.eval.hook.eval_config(every_steps=1000, metrics="fid", num_samples=5000)

Every `every_steps` steps `EvalHook` draws `num_samples` images from G (a
fixed latent batch, so the curve is not sampling noise), scores them against
`num_reference` training examples (reference features are extracted once),
appends {"step", "eval/<metric>": value, ...} to workdir/metrics.jsonl and
TensorBoard, and keeps the best checkpoint by `best_metric` in workdir/best/
(an orbax CheckpointManager with a BestN(1) preservation policy: a new save
lands in a temporary folder renamed into place, and the worse one is deleted
only after, so a kill never leaves no best checkpoint). `best_metric` is
minimised unless it is one of precision, recall, density, coverage, is, modes.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from jgan import config as config_lib
from jgan import features as features_lib
from jgan.core import rng
from jgan.core.errors import UserError
from jgan.data import images as image_lib
from jgan.eval import api as evaluate_lib
from jgan.eval import provenance
from jgan.tasks import Generative
from jgan.train import hooks as hooks_lib
from jgan.train import workdir as workdir_lib
from jgan.train.hooks import Hook

BEST_DIR = "best"
_MAXIMISED = {"precision", "recall", "density", "coverage", "is", "modes", "code_purity", "code_purity_min",
              "code_classes"}
_CODE_PURITY_SCALARS = ("code_purity", "code_purity_min", "code_classes")


def eval_config(**overrides) -> ml_collections.ConfigDict:
  """The `config.eval` block: jgan.config's defaults with `overrides`; every_steps=0 turns evaluation off."""
  block = config_lib.base_config().eval
  block.update(overrides)
  return block


class BestCheckpoint:
  """Keeps the single best state by one metric in its own orbax directory."""

  def __init__(self, directory: str, metric: str):
    self.metric = metric
    # BestN sorts ascending (descending with reverse) and keeps the last n: reverse when smaller is better.
    reverse = metric not in _MAXIMISED
    options = ocp.CheckpointManagerOptions(
        preservation_policy=ocp.checkpoint_managers.BestN(
            get_metric_fn=lambda m: m[metric], reverse=reverse, n=1, keep_checkpoints_without_metrics=False),
        enable_async_checkpointing=False,  # the loop donates the state right after the hook
        cleanup_tmp_directories=True, create=True)
    self.manager = ocp.CheckpointManager(os.path.abspath(directory), options=options)

  def save(self, step: int, state: Any, value: float) -> None:
    if step in self.manager.all_steps() or not np.isfinite(value):
      return
    self.manager.save(step, args=ocp.args.StandardSave(state), metrics={self.metric: float(value)}, force=True)

  def steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


class EvalHook(Hook):
  """Scores `sample_fn(state)` (uint8 images) against a reference every `every_steps` steps."""

  def __init__(self, every_steps: int, sample_fn: Callable[[Any], np.ndarray], reference_images: np.ndarray,
               reference_identity: dict, extractor, metrics, jsonl_path: str, writer=None,
               best: BestCheckpoint | None = None, seed: int = 0, batch_size: int | None = None,
               print_fn: Callable[[str], None] = lambda s: print(s, flush=True), codes: dict | None = None):
    self.every_steps = every_steps
    self.sample_fn = sample_fn
    self.reference_images = reference_images
    self.reference_identity = reference_identity
    self.extractor = extractor
    self.metrics = evaluate_lib.parse_metrics(metrics)
    self.feature_metrics = evaluate_lib.feature_metrics(self.metrics)
    self.jsonl_path = jsonl_path
    self.writer = writer
    self.best = best
    self.seed = seed
    self.batch_size = batch_size
    self.print_fn = print_fn
    self.codes = codes   # code_purity: {"labels", "num_classes", "code_groups"} of sample_fn's samples
    self._reference = None
    if best is not None and best.metric not in self._score_names():
      raise UserError(f"config.eval.best_metric={best.metric!r} is not among the scores of "
                      f"config.eval.metrics={','.join(self.metrics)} ({', '.join(self._score_names())})")

  def _score_names(self) -> list[str]:
    names = {"fid": ["fid"], "kid": ["kid", "kid_std"], "pr": ["precision", "recall"],
             "dc": ["density", "coverage"], "is": ["is", "is_std"], "class_kl": ["class_kl"],
             "confident": ["confident", "confident_min_share", "confident_max_share"],
             "stacked_mnist": ["modes", "kl", "channel_kl", "dependence_kl", "share_min", "share_max"],
             "code_purity": list(_CODE_PURITY_SCALARS)}
    return [n for m in self.metrics for n in names[m]]

  def scores(self, state: Any) -> dict:
    images = self.sample_fn(state)
    scores = {}
    if "stacked_mnist" in self.metrics:  # lenet-mnist per channel; no reference, no feature extractor
      scores.update(evaluate_lib.stacked_mnist_scores(images, self.batch_size))
    if "code_purity" in self.metrics:   # the curves take its scalars; the per-value lists are evaluate_run's
      purity = evaluate_lib.code_purity_scores(images, self.codes["labels"], self.codes["num_classes"],
                                               self.codes["code_groups"], self.batch_size)
      scores.update({name: purity[name] for name in _CODE_PURITY_SCALARS})
    if self.feature_metrics:
      if self._reference is None:  # extracted once per run, from the cache when an earlier run made it
        self._reference = evaluate_lib.reference_features(self.extractor, self.reference_images,
                                                          self.reference_identity, batch_size=self.batch_size)
      gen = self.extractor(self.extractor.check_images(images, "generated samples"), batch_size=self.batch_size)
      scores.update(evaluate_lib.score_features(self.feature_metrics, gen, self._reference, self.seed,
                                                self.extractor.num_classes))
    return scores

  def __call__(self, step: int, state: Any, metrics: dict) -> None:
    scores = self.scores(state)
    hooks_lib.write_scalars(step, scores, self.jsonl_path, self.writer, prefix="eval/")
    if self.best is not None:
      self.best.save(step, state, scores[self.best.metric])
    self.print_fn(f"eval step {step}: " + " ".join(f"{k}={v:.4g}" for k, v in scores.items()))

  def close(self) -> None:
    if self.best is not None:
      self.best.close()


def make_sample_fn(task, seed: int, num: int, batch_size: int = 256, metrics=()) -> Callable[[Any], np.ndarray]:
  """state -> uint8 (num, H, W, C) samples of G from latents (and noise, and codes: `sample_labels`) fixed by
  `seed`."""
  if not isinstance(task, Generative):
    raise UserError("config.eval needs a generative task (one with generate); this task has none")
  key = rng.named(jax.random.key(seed), "eval")
  z = np.asarray(task.latents(key, num))
  labels = sample_labels(task, seed, num, batch_size, metrics)
  sampling_state = jax.jit(lambda state: task.sampling_state(state, rng.named(key, "recalibrate")))
  # labels=None (static under jit) is generate's own default: unconditional tasks take none.
  generate = jax.jit(lambda state, z, y, i: task.generate(
      state, z, labels=y, key=jax.random.fold_in(rng.named(key, "noise"), i))[0])

  def sample_fn(state):
    state = sampling_state(state)
    parts = [np.asarray(generate(state, z[i:i + batch_size], None if labels is None else labels[i:i + batch_size], i))
             for i in range(0, num, batch_size)]
    return image_lib.to_uint8(np.concatenate(parts))
  return sample_fn


def sample_labels(task, seed: int, num: int, batch_size: int = 256, metrics=()) -> np.ndarray | None:
  """int (num,) the class codes of `make_sample_fn`'s samples (None for an unconditional task): for Stacked MNIST
  uniform draws, otherwise `shown_labels` from 0 in every batch of `batch_size`, as `generate` picked them by
  itself before the labels were explicit (`jgan.eval.api.score_labels`; the key is the eval seed's)."""
  if not getattr(task, "num_classes", 0):
    return None
  return evaluate_lib.score_labels(task, metrics, num, rng.named(jax.random.key(seed), "eval"), batch_size)


def make_eval_hook(config, workdir: str, task, source, writer=None) -> EvalHook:
  """The EvalHook described by `config.eval` for a run in `workdir` on `source` (its training data)."""
  e = config.eval
  steps_per_call = config.train.steps_per_call
  if e.every_steps % steps_per_call:
    raise UserError(f"config.eval.every_steps={e.every_steps} is not a multiple of "
                    f"config.train.steps_per_call={steps_per_call}")
  if source.element_shape == (2,):
    raise UserError("config.eval scores images; the 2D toy sets are scored with jgan.metrics.modes")
  if e.num_samples < 2:
    raise UserError(f"config.eval.num_samples={e.num_samples}: need at least 2 samples")
  extractor, reference, identity, codes = None, None, None, None
  metrics = evaluate_lib.parse_metrics(e.metrics)
  if "code_purity" in metrics:
    if not getattr(task, "num_classes", 0):
      raise UserError("config.eval.metrics has code_purity, but this run draws no class code: set "
                      "model.info_codes (InfoGAN) or train a class-conditional model, or drop code_purity")
    codes = {"labels": sample_labels(task, config.seed, e.num_samples, metrics=metrics),
             "num_classes": task.num_classes, "code_groups": getattr(task, "code_groups", 1)}
  if evaluate_lib.feature_metrics(metrics):
    # Only the feature metrics need an extractor and reference images: Stacked MNIST alone on RGB stacks
    # would otherwise run Inception over 10,000 training images (about 25 minutes on a 2-core CPU) for nothing.
    extractor_name = evaluate_lib.default_extractor(config.data) if e.extractor == "auto" else e.extractor
    extractor = features_lib.get(extractor_name, e.weights or None)
    num_ref = min(e.num_reference, source.length)
    indices = np.sort(np.random.default_rng(config.seed).choice(source.length, num_ref, replace=False))
    reference = np.concatenate([source.read(indices[i:i + 2048])["x"] for i in range(0, num_ref, 2048)])
    identity = {"name": source.name, "fingerprint": source.fingerprint, "num": int(num_ref),
                "shape": list(reference.shape[1:]), "sha256": provenance.array_sha256(reference)}
  best = BestCheckpoint(os.path.join(workdir, BEST_DIR), e.best_metric) if e.best_metric else None
  return EvalHook(e.every_steps, make_sample_fn(task, config.seed, e.num_samples, metrics=metrics), reference,
                  identity, extractor,
                  e.metrics, os.path.join(workdir, workdir_lib.METRICS_FILE), writer, best, config.seed,
                  e.batch_size or None, codes=codes)
