"""The run directory: resolved config, metrics, samples, checkpoints.

    workdir/config.json       the resolved config of the run
    workdir/metrics.jsonl     one JSON object per log step (and per health check: health/... keys)
    workdir/health.jsonl      training-health findings and rollbacks (jgan.train.health)
    workdir/report/           the run report (jgan.eval.report)
    workdir/samples/*.png     sample grids from a fixed latent batch
    workdir/tensorboard/      TensorBoard event files
    workdir/checkpoints/N/    orbax checkpoints
"""
from __future__ import annotations

import json
import os

import ml_collections

from jgan import config as config_lib
from jgan.core.errors import UserError

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
# Fields that may change when a run is continued (train longer, log differently).
_RESUMABLE_PREFIXES = ("train.num_steps", "log.", "eval.", "data.placement", "data.prefetch", "data.data_dir",
                       "data.device_max_bytes", "train.num_devices", "train.on_divergence",
                       "train.rollback_lr_factor", "train.max_rollbacks", "train.divergence_loss")


def config_to_dict(config) -> dict:
  return json.loads(config.to_json_best_effort()) if hasattr(config, "to_json_best_effort") else dict(config)


def load_config(workdir: str) -> ml_collections.ConfigDict:
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.isfile(path):
    raise UserError(f"{workdir} holds no jgan run (no {CONFIG_FILE}): train one with --workdir={workdir} first")
  try:
    with open(path) as f:
      loaded = json.load(f)
  except (OSError, ValueError) as e:
    raise UserError(f"cannot read {path}: {e}") from None
  return config_lib.with_defaults(loaded)  # a run of an older jgan lacks the newer fields


def prepare(workdir: str, config) -> None:
  """Creates `workdir` and records the config; refuses to resume a run with another model or data."""
  if not workdir:
    raise UserError("--workdir is required")
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, CONFIG_FILE)
  new = config_to_dict(config)
  if os.path.isfile(path):
    with open(path) as f:
      old = json.load(f)
    # Fields an older jgan did not record had their defaults.
    old_flat, new_flat = config_lib.flatten(config_lib.with_defaults(old)), config_lib.flatten(new)
    for key in sorted(set(old_flat) | set(new_flat)):
      if key.startswith(_RESUMABLE_PREFIXES):
        continue
      if old_flat.get(key) != new_flat.get(key):
        raise UserError(f"{workdir} holds a run with config.{key}={old_flat.get(key)!r}, not "
                        f"{new_flat.get(key)!r}: use the same config to resume, or a new --workdir")
  from jgan.core.sharding import is_main_process  # here: importing this module needs no jax
  if is_main_process():  # hosts of a multi-host run share the workdir
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      json.dump(new, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def truncate_metrics(workdir: str, last_step: int) -> None:
  """Drops metric lines newer than `last_step` (logged after the checkpoint a resume starts from)."""
  path = os.path.join(workdir, METRICS_FILE)
  from jgan.core.sharding import is_main_process
  if not os.path.isfile(path) or not is_main_process():
    return
  with open(path) as f:
    lines = f.readlines()
  keep = []
  for line in lines:
    try:
      if json.loads(line)["step"] <= last_step:
        keep.append(line)
    except (ValueError, KeyError):
      continue  # a line cut short by a kill
  if len(keep) != len(lines):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      f.writelines(keep)
    os.replace(tmp, path)
