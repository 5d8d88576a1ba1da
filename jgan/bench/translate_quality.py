"""Measuring translation where the truth is known: baselines, a paired upper bound, seeds and intervals.

Used by experiments.bench_style (photo -> stylised photo, target stylise(x)) and experiments.bench_translate
(digits, several seeds). Images are uint8 (N, H, W, C) unless said otherwise.

  match_histograms   the per-channel CDF-matching baseline (a per-pixel colour map: what a method
                     that ignores context can do at best, roughly)
  train_paired       the same generator trained with L1 on aligned (x, y) pairs: what the architecture
                     can do when it is told the answer (an upper bound for the unpaired CycleGAN)
  quality            mean PSNR (dB) and SSIM of outputs against targets
  mean_ci95          mean and the half-width of its 95% Student-t interval over seeds
  train_seeds        one training run per seed of a config (resumed when present)
"""
from __future__ import annotations

import math
import os
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jgan.core import rng
from jgan.core.errors import UserError


def match_histograms(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
  """Each image's channels mapped so their value CDF matches `reference`'s pooled per-channel CDF.

  images uint8 (N, H, W, C), reference uint8 (M, H', W', C). Value v of an image's channel c becomes
  the smallest r with F_ref,c(r) >= F_img,c(v) (F: the empirical CDF over 0..255), as classic
  histogram specification; a value absent from the image is never looked up.
  """
  images, reference = np.asarray(images), np.asarray(reference)
  if images.dtype != np.uint8 or reference.dtype != np.uint8 or images.ndim != 4 or reference.ndim != 4:
    raise UserError(f"match_histograms needs uint8 (N, H, W, C) images, got {images.dtype} {images.shape} and "
                    f"{reference.dtype} {reference.shape}")
  if images.shape[-1] != reference.shape[-1]:
    raise UserError(f"match_histograms: {images.shape[-1]} channels against a reference of {reference.shape[-1]}")
  channels = images.shape[-1]
  ref_cdf = [np.cumsum(np.bincount(reference[..., c].ravel(), minlength=256)) / reference[..., c].size
             for c in range(channels)]
  out = np.empty_like(images)
  for n, image in enumerate(images):
    for c in range(channels):
      values = image[..., c]
      cdf = np.cumsum(np.bincount(values.ravel(), minlength=256)) / values.size
      # A tolerance, so that equal CDF levels computed from different counts still compare equal.
      lookup = np.minimum(np.searchsorted(ref_cdf[c], cdf - 1e-9, side="left"), 255)
      out[n, ..., c] = lookup[values]
  return out


def quality(outputs: np.ndarray, targets: np.ndarray) -> dict:
  """{"psnr": mean dB, "ssim": mean} of uint8 outputs against uint8 targets (N, H, W, C), N >= 1."""
  from jgan.metrics.image import psnr, ssim
  # Identical images give +inf PSNR; capping the MSE at half a grey level squared keeps means finite.
  psnr_values = np.asarray(psnr(outputs, targets, mse_floor=0.25))
  return {"psnr": float(np.mean(psnr_values)), "ssim": float(np.mean(np.asarray(ssim(outputs, targets))))}


def t_quantile(p: float, df: int) -> float:
  """The p-quantile (p > 1/2) of Student's t with `df` degrees of freedom, by bisection of its CDF."""
  from jax.scipy.special import betainc

  def cdf(t: float) -> float:
    return 1.0 - 0.5 * float(betainc(df / 2.0, 0.5, df / (df + t * t)))
  low, high = 0.0, 1.0
  while cdf(high) < p:
    high *= 2.0
  for _ in range(60):
    mid = 0.5 * (low + high)
    low, high = (mid, high) if cdf(mid) < p else (low, mid)
  return 0.5 * (low + high)


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
  """(mean, half-width of the two-sided 95% t interval of the mean); the half-width is nan for one value."""
  values = [float(v) for v in values]
  if not values:
    raise ValueError("mean_ci95 of no values")
  mean = sum(values) / len(values)
  if len(values) < 2:
    return mean, math.nan
  std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
  return mean, t_quantile(0.975, len(values) - 1) * std / math.sqrt(len(values))


def format_ci(values: Sequence[float], digits: int = 2) -> str:
  mean, half = mean_ci95(values)
  return f"{mean:.{digits}f}" if math.isnan(half) else f"{mean:.{digits}f} +- {half:.{digits}f}"


def to_unit(u8) -> jax.Array:
  """uint8 -> float32 in [-1, 1] (jgan's image convention)."""
  return jnp.asarray(u8, jnp.float32) * (2.0 / 255.0) - 1.0


def to_uint8(x) -> np.ndarray:
  return np.clip(np.round((np.asarray(x) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def train_paired(generator, inputs: np.ndarray, targets: np.ndarray, steps: int, seed: int, batch_size: int = 4,
                 lr: float = 1e-3) -> Callable[[np.ndarray], np.ndarray]:
  """`generator` (a Flax module, images -> images) trained with L1 on aligned pairs; returns predict(uint8) -> uint8.

  inputs, targets uint8 (N, H, W, C). Adam (b1 = 0.5, as CycleGAN's), init as `jgan.tasks.cyclegan.lecun_init`,
  batches drawn with replacement from the key `rng.named(key(seed), "paired")`.
  """
  from jgan.tasks.cyclegan import lecun_init
  if inputs.shape != targets.shape or len(inputs) == 0:
    raise UserError(f"train_paired needs aligned pairs, got {inputs.shape} and {targets.shape}")
  key = rng.named(jax.random.key(seed), "paired")
  params = lecun_init({"g": generator}, rng.named(key, "init"), to_unit(inputs[:1]))["g"]
  optimizer = optax.adam(lr, b1=0.5)
  opt_state = optimizer.init(params)
  apply = lambda p, x: generator.apply({"params": p}, x)

  @jax.jit
  def step(params, opt_state, x, y):
    grads = jax.grad(lambda p: jnp.mean(jnp.abs(apply(p, x) - y)))(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  picks = np.asarray(jax.random.randint(rng.named(key, "batches"), (steps, batch_size), 0, len(inputs)))
  for pick in picks:
    params, opt_state = step(params, opt_state, to_unit(inputs[pick]), to_unit(targets[pick]))
  forward = jax.jit(apply)
  return lambda x: np.concatenate([to_uint8(forward(params, to_unit(x[i:i + 256]))) for i in range(0, len(x), 256)])


def train_seeds(config, workdir: str, seeds: int, num_steps: int = 0) -> list[str]:
  """Trains (or resumes) `config` once per seed 0..seeds-1 under workdir/seed{k}; returns those run folders."""
  from jgan.train.run import train
  if seeds < 1:
    raise UserError(f"--seeds={seeds}: train at least one seed")
  folders = []
  for seed in range(seeds):
    run_config = config.copy_and_resolve_references()
    run_config.seed = seed
    run_config.log.tensorboard = False
    if num_steps:
      run_config.train.num_steps = num_steps
    folder = os.path.join(workdir, f"seed{seed}")
    train(run_config, folder)
    folders.append(folder)
  return folders
