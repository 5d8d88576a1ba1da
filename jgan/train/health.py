"""Training health: name instability, collapse and divergence while they happen.

`HealthMonitor` is a hook of the one loop (on unless `config.log.health_every_steps`
is 0). Every check it reads the step's metrics (at the log steps, which fetch them
anyway, it adds no device sync of its own) and runs the detectors below over their
history; every `config.log.health_sample_every_steps` it also draws a fixed latent
batch from G and compares it with real data. A finding is printed once per
episode (an episode begins when its condition starts and ends when it clears) as

    health: step 2200: loss_spike: d_loss=1.5 is 5.7 robust SDs above its median 0.382 ... Try ...

and recorded as an event {"step", "kind", "message", values...} in
workdir/health.jsonl (an {"episode": "end"} event when it clears), and as the
scalar health/<kind> (1 while active, 0 otherwise) with the measured statistics
(health/diversity, health/class_kl, ...) in metrics.jsonl and TensorBoard. When
the run ends, one line names the episodes still open.

Detectors (thresholds are module constants):
  d_overpowering        D(x) >= 0.95 and D(G(z)) <= 0.05 at each of the last 5 checks; clears when
                        D(x) < 0.9 or D(G(z)) > 0.1 (not for the Wasserstein loss: its D has no probability).
  g_gradient_vanishing  the median of G's gradient norm over the last 5 checks fell below 1% of its
                        highest 5-check median so far.
  loss_spike            against the median and robust SD (1.4826 MAD) of the previous 20 checks, one of
                        d_loss, g_loss (up by max(1, |median|)), D(x) (down by 0.3), D's gradient norm (up 8x,
                        on a log scale) moved that far and by more than 6 robust SDs, or two of them by more
                        than 4 (D briefly failing shows in several at once).
  loss_oscillation      3 or more of the last 10 checks of a loss were excursions (more than 4 robust
                        SDs and max(0.5, |median| / 2) away from the previous 20 checks' median, either
                        way); clears below 2.
  low_diversity         sample-based: the mean pairwise feature distance of 512 samples is below 0.5x
                        that of 512 real images, or more than 30% of the samples have a near duplicate
                        (a neighbour closer than the 5th percentile of the real images' nearest-neighbour
                        distances). Features: lenet-mnist for 28x28 gray data, else pixels pooled to <= 16x16.
  class_imbalance       sample-based, when a classifier exists (lenet-mnist on 28x28x1 data with 10
                        classes; else the ACGAN class head): KL(predicted classes || uniform) > 0.1 nats,
                        or the rarest class below 0.3 / K of the samples. Not reported while
                        low_diversity is (a collapsed G is imbalanced too).
  mode_dropping         sample-based, 2D toy sets: 2,500 points cover fewer modes than the mixture has
                        (jgan.metrics.modes: a mode is covered by a point within 3 sigma).
  non_finite            a loss, gradient norm or the updated parameters (the step's params_finite flag)
                        are NaN/inf.
  blow_up               |d_loss| or |g_loss| above config.train.divergence_loss.
The last two are divergence: the monitor raises DivergenceError, and jgan.train.run rolls back
(config.train.on_divergence) or stops. The sustained and sample-based checks start after
config.log.health_warmup_steps.
"""
from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jgan.tasks.gan import GAN
from jgan.train import hooks as hooks_lib
from jgan.train.hooks import DivergenceError, Hook, NonFiniteError

HEALTH_FILE = "health.jsonl"
NUM_SAMPLES = 512            # images per sample-based check (2D sets: jgan.metrics.modes.NUM_SAMPLES)

# d_overpowering / g_gradient_vanishing
WINDOW = 5                   # checks a sustained condition must hold
D_REAL_HIGH, D_FAKE_LOW = 0.95, 0.05
D_REAL_CLEAR, D_FAKE_CLEAR = 0.9, 0.1
VANISH_RATIO = 0.01
# loss_spike / loss_oscillation
HISTORY = 20                 # previous checks a value is compared with
MIN_HISTORY = 5              # fewer: no judgement
SPIKE_Z, CORROBORATED_Z = 6.0, 4.0
# (metric, bad direction, compared on a log scale): the signals of a spike
SPIKE_SIGNALS = (("d_loss", 1, False), ("g_loss", 1, False), ("d_real", -1, False), ("d_grad_norm", 1, True))
SPIKE_RISE = 1.0             # d_loss / g_loss: up by max(this, |median|)
D_REAL_DROP = 0.3            # D(x): down by this
GRAD_JUMP = 8.0              # D's gradient norm: this many times its median
EXCURSION_Z, EXCURSION_RISE = 4.0, 0.5
OSCILLATION_WINDOW, OSCILLATION_COUNT, OSCILLATION_CLEAR = 10, 3, 2
LOSSES = ("d_loss", "g_loss")
MAX_HISTORY = 1000           # checks kept in memory
# low_diversity / class_imbalance
DIVERSITY_LOW = 0.5
DUPLICATE_QUANTILE = 5.0     # percentile of the real nearest-neighbour distances
DUPLICATES_HIGH = 0.3
CLASS_KL_HIGH = 0.1
RAREST_LOW = 0.3             # times 1/K

# Advice per kind: a sentence, or a tuple of options that reads "Try A, B or C." with the options
# that the run already uses (an exact config.train.field=value it has) left out.
ADVICE = {
    "d_overpowering": ("a lower config.train.d_lr (now {d_lr:g}) or a higher config.train.g_lr (now {g_lr:g})",
                       "config.train.label_smoothing=0.1", "config.train.augment='translation,cutout'",
                       "config.train.r1_gamma=0.1"),
    "g_gradient_vanishing": "Try config.train.loss='non_saturating' (now {loss!r}) or 'hinge', or a lower "
                            "config.train.d_lr (now {d_lr:g}).",
    "loss_spike": ("lower config.train.d_lr (now {d_lr:g}) and config.train.g_lr (now {g_lr:g})",
                   "config.train.r1_gamma=0.1", "config.train.label_smoothing=0.1",
                   "config.train.ema_decay=0.999, which keeps the samples steady through such events"),
    "loss_oscillation": ("lower config.train.d_lr (now {d_lr:g}) and config.train.g_lr (now {g_lr:g})",
                         "config.train.b1=0.0", "config.train.r1_gamma=0.1"),
    "low_diversity": ("config.train.pack=2 (PacGAN)", "config.train.r1_gamma=0.1",
                      "a lower config.train.g_lr (now {g_lr:g})", "config.train.ema_decay=0.999"),
    "class_imbalance": ("config.train.pack=2 (PacGAN)", "config.train.ema_decay=0.999",
                        "a longer config.train.num_steps",
                        "an InfoGAN code (config.model.info_codes=10, which needs no labels)",
                        "a conditional G (config.model.num_classes=10)"),
    "mode_dropping": ("config.train.pack=2 (PacGAN)", "config.train.r1_gamma=0.1", "config.train.ema_decay=0.999",
                      "a linear config.train.lr_schedule"),
    "non_finite": "Lower config.train.g_lr (now {g_lr:g}) and config.train.d_lr (now {d_lr:g}), or compute in float32 "
                  "(config.model.dtype) if this was bfloat16.",
    "blow_up": "Lower config.train.g_lr (now {g_lr:g}) and config.train.d_lr (now {d_lr:g}).",
}
KINDS = tuple(ADVICE)
# A conditional G is sampled with the labels 0..K-1 in turn, so there an imbalance means it ignores them.
CONDITIONAL_ADVICE = {
    "class_imbalance": "G is conditional and drew every class equally often, so it does not follow its labels: "
                       "try a longer config.train.num_steps, a lower config.train.g_lr (now {g_lr:g}) or "
                       "config.model.acgan=True.",
}
# A G that reads an InfoGAN code cannot be packed (PacGAN needs one score per group, Q one code per
# example), and the code's weight is the lever: too heavy, and G draws one image per code.
CODED_ADVICE = {
    "low_diversity": ("a lower config.train.info_weight (now {info_weight:g}) so that G does not draw one image "
                      "per code", "config.train.r1_gamma=0.1", "a lower config.train.g_lr (now {g_lr:g})",
                      "config.train.ema_decay=0.999"),
    "class_imbalance": ("a higher config.train.info_weight (now {info_weight:g}), so that each code keeps to one class",
                        "config.train.ema_decay=0.999", "a longer config.train.num_steps"),
    "mode_dropping": ("a higher config.train.info_weight (now {info_weight:g})", "config.train.r1_gamma=0.1",
                      "config.train.ema_decay=0.999", "a linear config.train.lr_schedule"),
}
_SETTING = re.compile(r"config\.train\.(\w+)=('[^']*'|[-+.\w]+)")


def advice_text(advice: str | tuple[str, ...], train_config) -> str:
  """The advice as printed: a tuple of options becomes "Try A, B or C.", without the options whose
  exact setting (config.train.field=value) the run already has; the rates etc. filled in."""
  if isinstance(advice, tuple):
    def settled(option: str) -> bool:
      match = _SETTING.search(option)
      if not match or match.group(1) not in train_config:
        return False
      field, text = match.groups()
      current = train_config[field]
      if text.startswith("'"):
        return current == text[1:-1]
      try:
        return float(current) == float(text)
      except (TypeError, ValueError):
        return False
    options = [option for option in advice if not settled(option)] or list(advice[:1])
    listed = options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]
    advice = f"Try {listed}."
  t = train_config
  return advice.format(d_lr=t.d_lr, g_lr=t.g_lr, loss=t.loss, info_weight=t.info_weight)


# Sample-based findings in the first EARLY_SHARE of a run say so: a young G is often collapsed or lopsided
# and grows out of it (the main job's step-500 samples are near duplicates; by step 1,500 they are not).
SAMPLE_KINDS = ("low_diversity", "class_imbalance", "mode_dropping")
EARLY_SHARE = 0.25
EARLY_NOTE = (" This early in the run (step {step} of {num_steps}) it often passes by itself: change the config "
              "only if later checks still report it.")


# ----------------------------------------------------------------------------- detectors on metric histories

def robust_center_scale(values: Sequence[float]) -> tuple[float, float]:
  """(median, 1.4826 * median absolute deviation) of `values`; the scale is floored at
  5% of |median| + 1e-3, so a flat history does not make every wiggle infinitely unusual."""
  x = np.asarray(values, np.float64)
  median = float(np.median(x))
  sigma = 1.4826 * float(np.median(np.abs(x - median)))
  return median, max(sigma, 0.05 * abs(median) + 1e-3)


def _deviation(value: float, previous: Sequence[float]) -> tuple[float, float, float]:
  """(robust z, value - median, median) of `value` against `previous`."""
  median, sigma = robust_center_scale(previous)
  return (value - median) / sigma, value - median, median


def signal_moves(history: Sequence[dict]) -> list[dict]:
  """How far each SPIKE_SIGNALS metric of the newest check moved, in its bad direction, from the
  previous HISTORY checks: [{"metric", "value", "median", "robust_z" (> 0 = the bad way), "large"}]."""
  if len(history) < MIN_HISTORY + 1:
    return []
  moves = []
  for metric, direction, log_scale in SPIKE_SIGNALS:
    series = [h[metric] for h in history[-HISTORY - 1:] if metric in h]
    if len(series) < MIN_HISTORY + 1 or not all(math.isfinite(v) for v in series):
      continue
    if log_scale:
      if min(series) <= 0:
        continue
      series = [math.log(v) for v in series]
    z, rise, median = _deviation(series[-1], series[:-1])
    value = math.exp(series[-1]) if log_scale else series[-1]
    median = math.exp(median) if log_scale else median
    if metric in ("d_loss", "g_loss"):
      large = rise > max(SPIKE_RISE, abs(median))      # at least doubles, and by a nat or more
    elif metric == "d_real":
      large = -rise > D_REAL_DROP
    else:
      large = rise > math.log(GRAD_JUMP)
    moves.append({"metric": metric, "value": value, "median": median, "robust_z": direction * z, "large": large})
  return moves


def spike(history: Sequence[dict]) -> dict | None:
  """loss_spike's rule on the newest check of `history` (metric dicts, oldest first): one SPIKE_SIGNALS
  metric moved the bad way by more than SPIKE_Z robust SDs, or two by more than CORROBORATED_Z, each by a
  large amount. Returns the strongest move with the others listed under "also", else None."""
  moves = [m for m in signal_moves(history) if m["large"]]
  strong = [m for m in moves if m["robust_z"] > SPIKE_Z]
  backed = [m for m in moves if m["robust_z"] > CORROBORATED_Z]
  if not strong and len(backed) < 2:
    return None
  ranked = sorted(backed, key=lambda m: -m["robust_z"])
  top = {k: ranked[0][k] for k in ("metric", "value", "median", "robust_z")}
  top["also"] = [{k: m[k] for k in ("metric", "value", "median")} for m in ranked[1:]]
  return top


def excursions(series: Sequence[float], window: int = OSCILLATION_WINDOW) -> int:
  """How many of the last `window` values of `series` left the band of the HISTORY values before each."""
  count = 0
  for i in range(max(MIN_HISTORY, len(series) - window), len(series)):
    previous = series[max(0, i - HISTORY):i]
    z, rise, median = _deviation(series[i], previous)
    if abs(z) > EXCURSION_Z and abs(rise) > max(EXCURSION_RISE, abs(median) / 2):
      count += 1
  return count


def d_overpowering(history: Sequence[dict], active: bool) -> dict | None:
  """The D(x)/D(G(z)) values when D has been winning for WINDOW checks (or still wins, if `active`)."""
  recent = [h for h in history[-WINDOW:] if "d_real" in h and "d_fake" in h]
  if not recent:
    return None
  last = recent[-1]
  if active:
    holds = last["d_real"] >= D_REAL_CLEAR and last["d_fake"] <= D_FAKE_CLEAR
  else:
    holds = len(recent) == WINDOW and all(h["d_real"] >= D_REAL_HIGH and h["d_fake"] <= D_FAKE_LOW for h in recent)
  return {"d_real": last["d_real"], "d_fake": last["d_fake"]} if holds else None


def g_gradient_vanishing(norms: Sequence[float], peak: float) -> dict | None:
  """{"g_grad_norm", "peak"} when the median of the last WINDOW `norms` is below VANISH_RATIO of `peak`,
  the highest such median before (see window_medians_peak)."""
  if len(norms) < 2 * WINDOW:
    return None
  now = float(np.median(norms[-WINDOW:]))
  return {"g_grad_norm": now, "peak": peak} if now < VANISH_RATIO * peak else None


def window_medians_peak(norms: Sequence[float]) -> float:
  """The highest median of WINDOW consecutive values of `norms` (0 when there are fewer)."""
  return max((float(np.median(norms[i - WINDOW:i])) for i in range(WINDOW, len(norms) + 1)), default=0.0)


# ----------------------------------------------------------------------------- statistics of samples

def _pairwise(features: np.ndarray) -> np.ndarray:
  f = np.asarray(features, np.float64)
  sq = np.sum(f * f, axis=1)
  d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * f @ f.T, 0.0)
  return np.sqrt(d2)


def mean_pairwise_distance(features: np.ndarray) -> float:
  d = _pairwise(features)
  n = len(d)
  return float(d.sum() / max(n * (n - 1), 1))


def nearest_neighbour_distances(features: np.ndarray) -> np.ndarray:
  d = _pairwise(features)
  np.fill_diagonal(d, np.inf)
  return d.min(axis=1)


class RealStats:
  """What samples are compared with: the real images' mean pairwise distance and near-duplicate radius."""

  def __init__(self, features: np.ndarray):
    self.diversity = mean_pairwise_distance(features)
    self.duplicate_radius = float(np.percentile(nearest_neighbour_distances(features), DUPLICATE_QUANTILE))


def diversity_stats(features: np.ndarray, real: RealStats) -> dict:
  """{"diversity": mean pairwise distance / the real one, "duplicates": fraction with a near duplicate}."""
  return {"diversity": mean_pairwise_distance(features) / max(real.diversity, 1e-12),
          "duplicates": float(np.mean(nearest_neighbour_distances(features) < real.duplicate_radius))}


def class_stats(predicted: np.ndarray, num_classes: int) -> dict:
  """{"class_kl": KL(histogram || uniform), "rarest_class": its share, "class_<k>": share of class k}."""
  hist = np.bincount(np.asarray(predicted), minlength=num_classes)[:num_classes] / max(len(predicted), 1)
  nz = hist[hist > 0]
  out = {"class_kl": float(np.sum(nz * np.log(nz * num_classes))), "rarest_class": float(hist.min())}
  out.update({f"class_{k}": float(v) for k, v in enumerate(hist)})
  return out


def mode_dropping(stats: dict, num_modes: int) -> dict | None:
  """The jgan.metrics.modes stats when fewer than `num_modes` modes are covered, else None."""
  if stats["modes"] < num_modes:
    return {"modes": int(stats["modes"]), "num_modes": num_modes, "hq": float(stats["hq"])}
  return None


def judge_samples(stats: dict) -> dict[str, dict | None]:
  """Sample statistics (from a Probe) -> {kind: values or None} for the sample-based kinds they inform."""
  out = {}
  if "diversity" in stats:
    low = stats["diversity"] < DIVERSITY_LOW or stats["duplicates"] > DUPLICATES_HIGH
    out["low_diversity"] = {k: stats[k] for k in ("diversity", "duplicates")} if low else None
  if "class_kl" in stats:
    k = stats["num_classes"]
    imbalanced = stats["class_kl"] > CLASS_KL_HIGH or stats["rarest_class"] < RAREST_LOW / k
    if out.get("low_diversity") is not None:
      imbalanced = False
    shares = [stats[f"class_{i}"] for i in range(k)]
    out["class_imbalance"] = ({"class_kl": stats["class_kl"], "rarest_class": stats["rarest_class"],
                               "rarest": int(np.argmin(shares)), "commonest": int(np.argmax(shares)),
                               "commonest_share": float(max(shares))} if imbalanced else None)
  if "modes" in stats:
    out["mode_dropping"] = mode_dropping(stats, stats["num_modes"])
  return out


def describe(kind: str, values: dict) -> str:
  """What was seen, in words (the part of the line before the advice)."""
  v = values
  if kind == "d_overpowering":
    return (f"D(x)={v['d_real']:.3f} and D(G(z))={v['d_fake']:.3f} for {WINDOW} checks in a row: "
            "the discriminator overpowers the generator")
  if kind == "g_gradient_vanishing":
    return (f"G's gradient norm {v['g_grad_norm']:.3g} fell below {VANISH_RATIO:.0%} of its peak {v['peak']:.3g}: "
            "the generator gets no signal")
  if kind == "loss_spike":
    way = "below" if v["metric"] == "d_real" else "above"
    also = "".join(f", {m['metric']}={m['value']:.3g} (median {m['median']:.3g})" for m in v.get("also", []))
    named = {v["metric"], *(m["metric"] for m in v.get("also", []))}
    probs = " ".join(f"{k}={v[k]:.3f}" for k in ("d_real", "d_fake") if k in v and k not in named)
    return (f"{v['metric']}={v['value']:.4g} is {abs(v['robust_z']):.1f} robust SDs {way} its median "
            f"{v['median']:.3g} over the last {HISTORY} checks{also}{' (' + probs + ')' if probs else ''}")
  if kind == "loss_oscillation":
    return (f"{v['metric']} swung out of its usual band at {v['excursions']} of the last {OSCILLATION_WINDOW} checks")
  if kind == "low_diversity":
    return (f"samples are {v['diversity']:.2f}x as diverse as real data, {v['duplicates']:.0%} have a near "
            "duplicate: the generator is collapsing")
  if kind == "class_imbalance":
    return (f"class {v['commonest']} makes {v['commonest_share']:.1%} of the samples, class {v['rarest']} "
            f"{v['rarest_class']:.1%} (KL from uniform {v['class_kl']:.3f} nats)")
  if kind == "mode_dropping":
    return f"samples cover {v['modes']} of the {v['num_modes']} modes ({v['hq']:.0f}% high quality)"
  if kind == "non_finite":
    return f"non-finite values in {', '.join(v['names'])}"
  if kind == "blow_up":
    return f"{v['metric']}={v['value']:.3g} is above config.train.divergence_loss={v['limit']:g}"
  raise ValueError(kind)


# ----------------------------------------------------------------------------- sampling probes

class Probe:
  """state -> statistics of a fixed batch of samples (see judge_samples for what they inform)."""

  def __call__(self, state: Any) -> dict:
    raise NotImplementedError


def _pool_pixels(images: np.ndarray, size: int = 16) -> np.ndarray:
  """uint8 (N, H, W, C) -> float (N, D): block means down to at most size x size, flattened."""
  x = np.asarray(images, np.float32) / 127.5 - 1.0
  n, h, w, c = x.shape
  fh, fw = max(1, h // size), max(1, w // size)
  x = x[:, :h // fh * fh, :w // fw * fw].reshape(n, h // fh, fh, w // fw, fw, c).mean(axis=(2, 4))
  return x.reshape(n, -1)


class ImageProbe(Probe):
  """Diversity (and classes, with a classifier) of `num` samples of G against `real` uint8 images.

  featurize: uint8 images -> {"features": (N, D)[, "logits": (N, K)]}.
  classify: optional (state, float samples) -> class logits (an ACGAN head) when featurize gives none.
  """

  def __init__(self, sample_fn: Callable[[Any], np.ndarray], featurize: Callable[[np.ndarray], dict],
               real: np.ndarray, num_classes: int = 0, classify: Callable | None = None,
               conditional: bool = False, coded: bool = False):
    self.sample_fn = sample_fn
    self.featurize = featurize
    self.num_classes = num_classes
    self.classify = classify
    self.conditional = conditional  # G draws the classes 0..K-1 in turn: an imbalance means it ignores them
    self.coded = coded              # G reads an InfoGAN code (drawn 0..K-1 in turn, unrelated to the classes)
    self.real = RealStats(featurize(real)["features"])

  def __call__(self, state: Any) -> dict:
    samples = self.sample_fn(state)
    out = self.featurize(_to_uint8(samples))
    stats = diversity_stats(out["features"], self.real)
    logits = out.get("logits")
    if logits is None and self.classify is not None:
      logits = np.asarray(self.classify(state, samples))
    if self.num_classes and logits is not None:
      stats.update(class_stats(np.argmax(logits, axis=-1), self.num_classes), num_classes=self.num_classes)
    return stats


class PointProbe(Probe):
  """Mode coverage of 2D samples against the known mixture (jgan.metrics.modes)."""

  def __init__(self, sample_fn: Callable[[Any], np.ndarray], centres: np.ndarray, sigma: float):
    self.sample_fn, self.centres, self.sigma = sample_fn, centres, sigma

  def __call__(self, state: Any) -> dict:
    from jgan.metrics import modes
    stats = modes.mode_stats(np.asarray(self.sample_fn(state)), self.centres, self.sigma)
    return {"modes": stats["modes"], "num_modes": len(self.centres), "hq": stats["hq"],
            "reverse_kl": stats["reverse_kl"]}


def _to_uint8(samples) -> np.ndarray:
  from jgan.data import images as image_lib
  return image_lib.to_uint8(np.asarray(samples))


def _sample_fn(task, seed: int, num: int) -> Callable[[Any], np.ndarray]:
  """state -> float (num, ...) samples of G from latents fixed by `seed` (sampling weights, inference mode)."""
  from jgan.core import rng
  key = rng.named(jax.random.key(seed), "health")
  z = task.latents(rng.named(key, "latent"), num)

  @jax.jit
  def generate(state):
    state = task.sampling_state(state, rng.named(key, "recalibrate"))
    return task.generate(state, z, key=rng.named(key, "noise"))[0]
  return lambda state: np.asarray(generate(state))


def make_probe(task, config, source) -> Probe | None:
  """The sample-based checks that fit this run, or None (a task without latents, e.g. image repair)."""
  from jgan.tasks import Generative
  if not isinstance(task, Generative):
    return None
  if source.element_shape == (2,):
    from jgan.data import toy
    from jgan.metrics import modes
    centres, sigma = toy.toy_modes(config.data.source)
    return PointProbe(_sample_fn(task, config.seed, modes.NUM_SAMPLES), centres, sigma)
  num = min(NUM_SAMPLES, source.length)
  picked = np.sort(np.random.default_rng(config.seed).choice(source.length, num, replace=False))
  real = source.read(picked)["x"]
  h, w, c = source.element_shape
  classify, num_classes = None, 0
  coded = bool(getattr(task, "info_code", False))
  if c == 1 and h == w == 28:
    from jgan import features
    lenet = features.get("lenet-mnist")
    with_logits = source.num_classes == lenet.num_classes
    featurize = lambda images: lenet(images, with_logits=with_logits)
    num_classes = lenet.num_classes if with_logits else 0
  else:
    featurize = lambda images: {"features": _pool_pixels(images)}
    # An InfoGAN Q head reads G's own codes back, not the data's classes: no class check from it.
    if isinstance(task, GAN) and task.acgan_weight > 0 and task.num_classes and not coded:
      num_classes = task.num_classes
      classify = _acgan_head(task, num)
  return ImageProbe(_sample_fn(task, config.seed, num), featurize, real, num_classes, classify,
                    conditional=bool(getattr(task, "num_classes", 0)) and not coded, coded=coded)


def _acgan_head(task, num: int) -> Callable:
  """(state, float samples) -> the ACGAN class logits of D on them (samples made for labels 0..K-1 in turn)."""
  from jgan.tasks.state import split_logits
  labels = jnp.arange(num, dtype=jnp.int32) % task.num_classes

  @jax.jit
  def head(state, x):
    out, _ = task.apply_d(state.params["d"], state.batch_stats["d"], x, labels, False)
    return split_logits(out)[1]
  return head


# ----------------------------------------------------------------------------- the hook

def read_events(workdir: str) -> list[dict]:
  path = os.path.join(workdir, HEALTH_FILE)
  if not os.path.isfile(path):
    return []
  events = []
  with open(path) as f:
    for line in f:
      try:
        events.append(json.loads(line))
      except ValueError:
        continue  # a line cut short by a kill
  return events


def episodes(events: Sequence[dict]) -> list[tuple[dict, int | None]]:
  """(start event, step of its {"episode": "end"} event, or None while still open) for every finding
  in `events`, in order; an end event closes the open episode of its kind."""
  out: list[tuple[dict, int | None]] = []
  open_index: dict[str, int] = {}
  for event in events:
    kind = event.get("kind")
    if event.get("episode") == "end":
      if kind in open_index:
        i = open_index.pop(kind)
        out[i] = (out[i][0], event["step"])
    else:
      open_index[kind] = len(out)
      out.append((event, None))
  return out


# Events that record what happened to the run, kept when it resumes from an earlier step.
KEPT_ON_RESUME = ("rollback", "non_finite", "blow_up")


def truncate_events(workdir: str, last_step: int) -> None:
  """Drops findings newer than `last_step` (a resumed or rolled-back run sees them again), keeping
  divergences and rollbacks (they happened, and the rollbacks set the learning-rate scale)."""
  path = os.path.join(workdir, HEALTH_FILE)
  if not os.path.isfile(path) or not hooks_lib.is_main_process():
    return
  events = read_events(workdir)
  keep = [e for e in events if e.get("step", 0) <= last_step or e.get("kind") in KEPT_ON_RESUME]
  if len(keep) != len(events):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      f.writelines(json.dumps(e) + "\n" for e in keep)
    os.replace(tmp, path)


def append_event(workdir: str, event: dict) -> None:
  if hooks_lib.is_main_process():
    with open(os.path.join(workdir, HEALTH_FILE), "a") as f:
      f.write(json.dumps(event) + "\n")


def _read_history(workdir: str, last_step: int) -> list[dict]:
  """The logged training metrics up to `last_step` (the detectors' memory across a resume)."""
  from jgan.train import workdir as workdir_lib
  path = os.path.join(workdir, workdir_lib.METRICS_FILE)
  history = []
  if os.path.isfile(path):
    with open(path) as f:
      for line in f:
        try:
          record = json.loads(line)
        except ValueError:
          continue
        if record.get("step", 0) <= last_step and "d_loss" in record:
          history.append({k: v for k, v in record.items() if isinstance(v, (int, float))})
  return history


class HealthMonitor(Hook):
  """Checks the run's health every `every_steps` steps (sample-based checks every `sample_every_steps`).

  Args:
    train_config: config.train (the loss, the rates shown in the advice, divergence_loss).
    probe: the sample-based checks (see make_probe), or None; `make_probe` builds it at the first
      sample-based check instead (it reads real data and may load a classifier).
    warmup_steps: sustained and sample-based checks start after this step.
    log_every_steps: the metrics logger's interval: at its steps the health/... scalars join the step's
      metrics (the monitor runs first), so metrics.jsonl keeps one line per step; 0: lines of their own.
  """

  def __init__(self, every_steps: int, sample_every_steps: int, warmup_steps: int, train_config, workdir: str,
               probe: Probe | None = None, make_probe: Callable[[], Probe | None] | None = None, writer=None,
               log_every_steps: int = 0, print_fn: Callable[[str], None] = lambda s: print(s, flush=True)):
    self.every_steps = every_steps
    self.log_every_steps = log_every_steps
    self.sample_every_steps = sample_every_steps
    self.warmup_steps = warmup_steps
    self.train_config = train_config
    self.workdir = workdir
    self.probe = probe
    self.make_probe = make_probe
    self.writer = writer
    self.print_fn = print_fn
    self.history: list[dict] = []
    self.active: dict[str, dict] = {}
    self.fired: list[dict] = []    # the episode-start events of this process, in order
    self._sample_now = None
    self._last_step = -1
    self._g_peak = 0.0
    self._latest: dict[str, tuple[int, dict]] = {}   # kind -> (step, values) of its last sighting

  # -- the loop interface
  def start(self, step: int) -> None:
    self.history = _read_history(self.workdir, step)[-MAX_HISTORY:]
    self._g_peak = window_medians_peak([h["g_grad_norm"] for h in self.history if "g_grad_norm" in h])
    # Episodes still open at `step` stay open (no second line).
    before = [e for e in read_events(self.workdir) if e.get("step", 0) <= step and e.get("kind") not in KEPT_ON_RESUME]
    self.active = {event["kind"]: event for event, end in episodes(before) if end is None}

  def due(self, step: int, last_step: int) -> bool:
    self._last_step = last_step
    self._sample_now = self._sample_due(step, last_step)
    return step % self.every_steps == 0 or step == last_step or self._sample_now

  def _sample_due(self, step: int, last_step: int) -> bool:
    return ((self.probe is not None or self.make_probe is not None) and self.sample_every_steps > 0
            and step >= self.warmup_steps
            and (step % self.sample_every_steps == 0 or step == last_step))

  def __call__(self, step: int, state: Any, metrics: dict) -> None:
    sample_now = self._sample_now
    self._sample_now = None
    if sample_now is None:  # called without due() (tests)
      sample_now = self._sample_due(step, -1)
    values = {k: float(v) for k, v in jax.device_get(metrics).items()}
    self._check_divergence(step, values)
    self.history.append({"step": step, **values})
    del self.history[:-MAX_HISTORY]
    found: dict[str, dict | None] = {}
    found.update(self._check_losses())
    if step >= self.warmup_steps:
      found.update(self._check_sustained())
    norms = [h["g_grad_norm"] for h in self.history[-WINDOW:] if "g_grad_norm" in h]
    if len(norms) == WINDOW:  # after the check: the peak is of the windows before the current one
      self._g_peak = max(self._g_peak, float(np.median(norms)))
    scalars = {}
    if sample_now and self.probe is None:
      self.probe, self.make_probe = self.make_probe(), None
    if sample_now and self.probe is not None:
      stats = self.probe(state)
      scalars.update({k: float(v) for k, v in stats.items() if k != "num_classes"})
      found.update(judge_samples(stats))
    for kind, value in found.items():
      self._update(step, kind, value)
      scalars[kind] = float(kind in self.active)
    scalars = {f"health/{k}": v for k, v in scalars.items() if math.isfinite(v)}
    if self.log_every_steps and (step % self.log_every_steps == 0 or step == self._last_step):
      metrics.update(scalars)  # the metrics logger, called next, puts them on its line
    elif scalars and hooks_lib.is_main_process():
      hooks_lib.write_scalars(step, scalars, os.path.join(self.workdir, "metrics.jsonl"), self.writer)

  # -- detectors over the history
  def _check_divergence(self, step: int, values: dict) -> None:
    bad = sorted(k for k, v in values.items() if not math.isfinite(v))
    if values.get("params_finite", 1.0) == 0.0:
      bad.append("the parameters")
    if bad:
      found = {"names": bad, **_finite_only(values)}
      self._fire(step, "non_finite", found)
      raise NonFiniteError(describe("non_finite", found), step=step)
    limit = self.train_config.divergence_loss
    if limit > 0:
      for name in LOSSES:
        if name in values and abs(values[name]) > limit:
          found = {"metric": name, "value": values[name], "limit": limit, **_finite_only(values)}
          self._fire(step, "blow_up", found)
          raise DivergenceError(describe("blow_up", found), step=step, kind="blow_up")

  def _check_losses(self) -> dict:
    out = {}
    swings = []
    for name in LOSSES:
      series = [h[name] for h in self.history if name in h]
      if len(series) < 2:
        continue
      count = excursions(series)
      limit = OSCILLATION_CLEAR if "loss_oscillation" in self.active else OSCILLATION_COUNT
      if count >= limit:
        swings.append({"metric": name, "excursions": count})
    last = self.history[-1]
    hit = spike(self.history)
    out["loss_spike"] = {**hit, **{k: last[k] for k in ("d_real", "d_fake") if k in last}} if hit else None
    # Oscillation is judged after the warm-up only (early training swings by design).
    if last["step"] >= self.warmup_steps:
      out["loss_oscillation"] = max(swings, key=lambda s: s["excursions"]) if swings else None
    return out

  def _check_sustained(self) -> dict:
    out = {}
    if self.train_config.loss != "wasserstein":  # a critic's output is no probability
      out["d_overpowering"] = d_overpowering(self.history, "d_overpowering" in self.active)
    norms = [h["g_grad_norm"] for h in self.history[-2 * WINDOW:] if "g_grad_norm" in h]
    if norms:
      out["g_gradient_vanishing"] = g_gradient_vanishing(norms, self._g_peak)
    return out

  # -- episodes
  def _update(self, step: int, kind: str, value: dict | None) -> None:
    if value is not None:
      self._latest[kind] = (step, value)
    if value is not None and kind not in self.active:
      self._fire(step, kind, value)
    elif value is None and kind in self.active:
      del self.active[kind]
      append_event(self.workdir, {"step": step, "kind": kind, "episode": "end"})

  def close(self) -> None:
    """One closing line naming the episodes still open, with what the last check saw."""
    still = [(kind, self.active[kind]["step"], self._latest[kind]) for kind in self.active
             if kind in self._latest and kind not in KEPT_ON_RESUME]
    if still and hooks_lib.is_main_process():
      self.print_fn("health: still open at the end: " + "; ".join(
          f"{kind} (since step {since}; at step {step}: {describe(kind, value)})"
          for kind, since, (step, value) in still))

  def _fire(self, step: int, kind: str, values: dict) -> dict:
    t = self.train_config
    advice = ADVICE[kind]
    if getattr(self.probe, "conditional", False):
      advice = CONDITIONAL_ADVICE.get(kind, advice)
    elif getattr(self.probe, "coded", False):
      advice = CODED_ADVICE.get(kind, advice)
    message = f"{describe(kind, values)}. " + advice_text(advice, t)
    if kind in SAMPLE_KINDS and step < EARLY_SHARE * t.num_steps:
      message += EARLY_NOTE.format(step=step, num_steps=t.num_steps)
    event = {"step": step, "kind": kind, "message": message, **_jsonable(values)}
    self.active[kind] = event
    self.fired.append(event)
    append_event(self.workdir, event)
    if hooks_lib.is_main_process():
      self.print_fn(f"health: step {step}: {kind}: {message}")
    return event


def _finite_only(values: dict) -> dict:
  return {k: v for k, v in values.items() if k in ("d_loss", "g_loss", "d_real", "d_fake")}


def _jsonable(values: dict) -> dict:
  out = {}
  for k, v in values.items():
    if isinstance(v, float) and not math.isfinite(v):
      out[k] = str(v)
    elif isinstance(v, (np.floating, np.integer)):
      out[k] = v.item()
    else:
      out[k] = v
  return out
