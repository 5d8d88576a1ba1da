"""Sampling from a trained run.

    sampler = jgan.infer.sampling.load("runs/dcgan")          # newest checkpoint
    images = sampler.sample(jax.random.key(0), 64)     # uint8 (64, H, W, C)
    x = sampler.generate(z)                            # float (B, H, W, C) in [-1, 1]

Samples use G in inference mode (BatchNorm running statistics) and the EMA
weights when the run kept them.
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from jgan.core import rng, sharding
from jgan.core.errors import UserError
from jgan.data import images as image_lib
from jgan.tasks import Generative, element_shape, init_state, make_task
from jgan.train import workdir as workdir_lib
from jgan.train.checkpoint import Checkpointer, abstract_like
from jgan.train.hooks import state_is_finite


def restore_state(workdir: str, task, config, step: int | None = None):
  """The training state of `workdir` at `step` (default: the newest readable checkpoint), on one device."""
  shape = element_shape(config.data)
  state_sharding = sharding.replicated(sharding.make_mesh(1))
  abstract = abstract_like(jax.eval_shape(lambda: init_state(task, config.seed, shape, state_sharding)),
                           state_sharding)
  directory = os.path.join(workdir, "checkpoints")
  checkpointer = Checkpointer(directory, keep=10**9, use_async=False) if os.path.isdir(directory) else None
  try:
    if checkpointer is None or not checkpointer.steps():
      raise UserError(f"{workdir} holds no checkpoint yet: train it first (python -m experiments.<name> "
                      f"--workdir={workdir})")
    if step is None:
      return checkpointer.restore_latest(abstract)
    if step not in checkpointer.steps():
      raise UserError(f"{workdir} has no checkpoint at step {step} (it has {checkpointer.steps()})")
    return checkpointer.restore(step, abstract)
  finally:
    if checkpointer is not None:
      checkpointer.close()


class Sampler:
  """The generator of a trained run, ready to sample (EMA weights with their own BatchNorm statistics)."""

  def __init__(self, workdir: str, step: int | None = None):
    self.workdir = workdir
    self.config = workdir_lib.load_config(workdir)
    self.element_shape = element_shape(self.config.data)
    self.gan = make_task(self.config, self.element_shape)
    if not isinstance(self.gan, Generative):
      raise UserError(f"{workdir} is a {self.config.task!r} run: it does not sample from latents "
                      "(use python -m experiments.repair for the image-repair runs)")
    state = restore_state(workdir, self.gan, self.config, step)
    self.step = int(state.step)
    if not state_is_finite(state):
      raise UserError(f"the checkpoint of step {self.step} in {workdir} holds non-finite weights (the run "
                      "diverged): pick an earlier one with --step, or retrain with lower learning rates")
    key = rng.named(jax.random.key(self.config.seed), "sampling")
    self.state = jax.jit(self.gan.sampling_state)(state, rng.named(key, "recalibrate"))
    # Only class-conditional GANs take labels (None is static under jit: two traces at most).
    self._generate = jax.jit(lambda state, z, labels, key: self.gan.generate(state, z, labels=labels, key=key)[0])

  @property
  def latent_dim(self) -> int:
    return self.gan.latent_dim

  def generate(self, z: jax.Array, labels=None, key: jax.Array | None = None) -> jax.Array:
    """z (B, latent_dim) [, int labels (B,) for a class-conditional run] -> float samples (B, ...) in [-1, 1].

    `key` feeds a generator that draws its own noise (StyleGAN's per-layer noise); without it that noise is 0.
    """
    z = jnp.asarray(z, jnp.float32)
    if z.ndim != 2 or z.shape[1] != self.latent_dim:
      raise UserError(f"latents must have shape (B, {self.latent_dim}), got {z.shape}")
    return self._generate(self.state, z, None if labels is None else jnp.asarray(labels), key)

  def sample(self, key: jax.Array, num: int, batch_size: int = 256, labels=None, truncation: float = 0.0) -> np.ndarray:
    """`num` samples: uint8 (num, H, W, C) images, or float32 (num, 2) toy points.

    `labels` picks the classes of a conditional run: (num,) ints, or fewer, repeated to num
    (one label: every sample of that class); default 0, 1, ..., K-1, 0, ... (`GAN.shown_labels`).
    `truncation` t > 0 draws z from the standard normal truncated to [-t, t] in every coordinate (the
    truncation trick of BigGAN, Brock et al. 2019: fidelity for variety); 0: plain N(0, 1).
    """
    if num < 1:
      raise UserError(f"--num={num} must be positive")
    if truncation < 0:
      raise UserError(f"--truncation={truncation} must be >= 0 (0: off)")
    if truncation > 0:
      z = jax.random.truncated_normal(key, -truncation, truncation, (num, self.latent_dim), jnp.float32)
    else:
      z = self.gan.latents(key, num)
    num_classes = self.gan.num_classes
    if labels is None and num_classes:
      labels = np.asarray(self.gan.shown_labels(num))   # 0, 1, ..., K-1, 0, ... (spread for several codes)
    elif labels is not None:
      if not num_classes:
        raise UserError(f"{self.workdir} is an unconditional run: it takes no labels")
      labels = np.resize(np.asarray(labels, np.int32), num)   # one label: every sample; a list: repeated
      if labels.min() < 0 or labels.max() >= num_classes:
        raise UserError(f"labels must lie in 0..{num_classes - 1} for {self.workdir}, got {sorted(set(labels))}")
    noise = rng.named(key, "noise")
    parts = [np.asarray(self.generate(z[i:i + batch_size], None if labels is None else labels[i:i + batch_size],
                                      jax.random.fold_in(noise, i)))
             for i in range(0, num, batch_size)]
    out = np.concatenate(parts)
    if not np.all(np.isfinite(out)):
      raise UserError(f"the generator of step {self.step} in {self.workdir} produced non-finite samples: "
                      "pick another checkpoint with --step, or retrain with lower learning rates")
    return out if len(self.element_shape) == 1 else image_lib.to_uint8(out)


def load(workdir: str, step: int | None = None) -> Sampler:
  return Sampler(workdir, step)


def check_out_path(out: str) -> None:
  """Raises a UserError unless `out` names a .png or .npz file that can be written (before any sampling)."""
  lower = out.lower()
  if not (lower.endswith(".png") or lower.endswith(".npz")):
    raise UserError(f"--out={out}: give a file name ending in .png or .npz")
  if os.path.isdir(out):
    raise UserError(f"--out={out} is a folder: give a file name ending in .png or .npz")
  parent = os.path.dirname(os.path.abspath(out))
  try:
    os.makedirs(parent, exist_ok=True)
  except OSError as e:
    raise UserError(f"--out={out}: cannot create the folder {parent}: {e.strerror or e}") from None
  if not os.path.isdir(parent):
    raise UserError(f"--out={out}: {parent} is not a folder")
  if not os.access(parent, os.W_OK):
    raise UserError(f"--out={out}: the folder {parent} is not writable")


def write_samples(samples: np.ndarray, out: str) -> None:
  """`.png`: a grid (or a scatter plot for points); `.npz`: `images` uint8 (N, H, W, C) or `points`.

  Written atomically (a temporary file renamed into place); a failure leaves no partial file
  and raises a one-line UserError.
  """
  check_out_path(out)
  try:
    if out.lower().endswith(".png"):
      image_lib.save_png(out, image_lib.render_points(samples) if samples.ndim == 2 else image_lib.make_grid(samples))
    else:
      tmp = f"{out}.tmp{os.getpid()}.npz"
      try:
        if samples.ndim == 2:
          np.savez(tmp, points=samples)
        else:
          np.savez(tmp, images=samples)
        os.replace(tmp, out)
      except BaseException:
        image_lib.remove_quietly(tmp)
        raise
  except OSError as e:
    raise UserError(f"cannot write {out}: {e.strerror or e}") from None
