"""Things the training loop does every N steps: logging, samples, checkpoints.

A hook is any object with `every_steps` and `__call__(step, state, metrics)`;
the loop calls it after step `step` (counted from 1) when `step` is a multiple
of `every_steps` and after the last step. `close()` runs once at the end.
Adding a capability (evaluation, EMA snapshots, ...) means adding a hook, not
editing the loop.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jgan.core.sharding import is_main_process
from jgan.data import images as image_lib


class DivergenceError(RuntimeError):
  """Training diverged (non-finite values, a loss blow-up); raised before that state is checkpointed.

  jgan.train.run rolls back to the last checkpoint or stops (config.train.on_divergence).
  """

  def __init__(self, what: str, step: int | None = None, kind: str = "blow_up"):
    super().__init__(what if step is None else f"step {step}: {what}")
    self.what = what
    self.step = step
    self.kind = kind


class NonFiniteError(DivergenceError):
  """A loss, gradient norm or parameter became NaN/inf."""

  def __init__(self, what: str, step: int | None = None, kind: str = "non_finite"):
    super().__init__(what, step, kind)


def check_finite(step: int, values: dict) -> None:
  """Raises NonFiniteError when a value of `values` is NaN/inf or the step's params_finite flag is 0."""
  bad = sorted(k for k, v in values.items() if not np.isfinite(v))
  if values.get("params_finite", 1.0) == 0.0:
    bad.append("the parameters")
  if bad:
    raise NonFiniteError(f"non-finite values in {', '.join(bad)}", step=step)


def all_finite(tree) -> jax.Array:
  """A bool scalar: every float of `tree` is finite (one reduction per leaf, on the device)."""
  flags = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
  return jnp.all(jnp.stack(flags)) if flags else jnp.asarray(True)


def state_is_finite(state) -> bool:
  """Whether the networks' parameters, EMA weights and running statistics of `state` are all finite."""
  return bool(_state_finite(network_weights(state)))


def network_weights(state):
  """The parameters, EMA weights and running statistics of a training state (any other tree: itself)."""
  found = {name: getattr(state, name) for name in ("params", "ema_params", "batch_stats") if hasattr(state, name)}
  return found or state


_state_finite = jax.jit(all_finite)


class Hook:
  every_steps: int = 1

  def start(self, step: int) -> None:
    """Called once before the first step of a run (or of a resumed run) at `step`."""

  def due(self, step: int, last_step: int) -> bool:
    return step % self.every_steps == 0 or step == last_step

  def __call__(self, step: int, state: Any, metrics: dict) -> None:
    raise NotImplementedError

  def close(self) -> None:
    pass


def _format_duration(seconds: float) -> str:
  seconds = int(max(0, seconds))
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def write_scalars(step: int, values: dict, jsonl_path: str, writer=None, prefix: str = "") -> None:
  """Appends {"step": step, prefix + name: value, ...} as one line of `jsonl_path`, and each
  value to the TensorBoard `writer` (when given) under prefix + name."""
  named = {prefix + k: v for k, v in values.items()}
  with open(jsonl_path, "a") as f:
    f.write(json.dumps({"step": step, **named}) + "\n")
  if writer is not None:
    for name, value in named.items():
      writer.add_scalar(name, value, step)


class MetricsLogger(Hook):
  """Appends metrics to workdir/metrics.jsonl and TensorBoard, prints a progress line.

  images/s counts real images consumed per second of wall time since the last
  log line (input pipeline and every update included).
  """

  def __init__(self, every_steps: int, num_steps: int, images_per_step: int, jsonl_path: str,
               writer=None, print_fn: Callable[[str], None] = lambda s: print(s, flush=True)):
    self.every_steps = every_steps
    self.num_steps = num_steps
    self.images_per_step = images_per_step
    self.jsonl_path = jsonl_path
    self.writer = writer
    self.print_fn = print_fn
    self._last_time = None
    self._last_step = None

  def start(self, step: int) -> None:
    self._last_time, self._last_step = time.perf_counter(), step

  def __call__(self, step: int, state: Any, metrics: dict) -> None:
    values = {k: float(v) for k, v in jax.device_get(metrics).items()}  # waits for the step
    check_finite(step, values)
    if not is_main_process():
      return
    now = time.perf_counter()
    if self._last_time is None:
      self.start(step - 1)
    elapsed = max(now - self._last_time, 1e-9)
    steps_done = step - self._last_step
    steps_per_s = steps_done / elapsed
    values["images_per_s"] = steps_per_s * self.images_per_step
    self._last_time, self._last_step = now, step
    write_scalars(step, values, self.jsonl_path, self.writer)
    eta = (self.num_steps - step) / steps_per_s if steps_per_s > 0 else 0
    shown = " ".join(f"{k}={values[k]:.3f}" for k in ("d_loss", "g_loss", "d_real", "d_fake") if k in values)
    self.print_fn(f"step {step}/{self.num_steps} {shown} {values['images_per_s']:.0f} img/s "
                  f"ETA {_format_duration(eta)}")


class FirstStepTimer(Hook):
  """Prints how long the first step of this (possibly resumed) run took: XLA compilation (or reading
  the step back from the persistent compilation cache, see jgan.core.compile_cache) plus the first
  batch. Fires once; it waits for that step to finish, which later steps would do anyway."""

  def __init__(self, print_fn: Callable[[str], None] = lambda s: print(s, flush=True)):
    self.print_fn = print_fn
    self._start = None
    self._fired = False

  def start(self, step: int) -> None:
    self._start, self._fired = time.perf_counter(), False

  def due(self, step: int, last_step: int) -> bool:
    return not self._fired

  def __call__(self, step: int, state: Any, metrics: dict) -> None:
    jax.block_until_ready(metrics)
    self._fired = True
    if is_main_process() and self._start is not None:
      cache = jax.config.jax_compilation_cache_dir
      where = f"compilation cache {cache}" if cache else "no compilation cache"
      self.print_fn(f"first step: {time.perf_counter() - self._start:.1f} s (compile or cache read, first batch; "
                    f"{where})")


class SampleWriter(Hook):
  """Writes a PNG grid (and a TensorBoard image) of G's samples from a fixed latent batch.

  `sample_fn(state) -> float array in [-1, 1]`, (N, H, W, C) images or (N, 2) points.
  Files: samples/step_000500.png and samples/latest.png.
  """

  def __init__(self, every_steps: int, sample_fn: Callable[[Any], Any], directory: str,
               writer=None, reference_points: np.ndarray | None = None):
    self.every_steps = every_steps
    self.sample_fn = sample_fn
    self.directory = directory
    self.writer = writer
    self.reference_points = reference_points

  def render(self, state: Any) -> np.ndarray:
    samples = np.asarray(jax.device_get(self.sample_fn(state)))
    if samples.ndim == 2:  # toy 2D points
      return image_lib.render_points(samples, self.reference_points)
    return image_lib.make_grid(image_lib.to_uint8(samples))

  def __call__(self, step: int, state: Any, metrics: dict) -> None:
    if not is_main_process():
      return
    grid = self.render(state)
    image_lib.save_png(os.path.join(self.directory, f"step_{step:07d}.png"), grid)
    image_lib.save_png(os.path.join(self.directory, "latest.png"), grid)
    if self.writer is not None:
      self.writer.add_image("samples", grid, step, dataformats="HWC")


class CheckpointHook(Hook):
  """Saves the state, never a diverged one: the metrics and the parameters themselves must be finite."""

  def __init__(self, every_steps: int, checkpointer):
    self.every_steps = every_steps
    self.checkpointer = checkpointer

  def __call__(self, step: int, state: Any, metrics: dict) -> None:
    # Never save a diverged state over good checkpoints (metrics are a few scalars; the check of the
    # weights is one reduction on the device).
    check_finite(step, {k: float(v) for k, v in jax.device_get(metrics).items()})
    if not state_is_finite(state):
      raise NonFiniteError("non-finite values in the parameters", step=step)
    self.checkpointer.save(step, state)
