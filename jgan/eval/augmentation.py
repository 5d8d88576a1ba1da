"""Do GAN samples help a classifier? The protocols of `python -m experiments.augment_study`.

Every image a GAN or classifier here trains on comes from the `pool` split of the embedded digits; every
accuracy is measured on the disjoint `heldout` split (jgan.data.splits), which lenet-mnist (the FID features)
never saw either.

  cas             Classification Accuracy Score (Ravuri & Vinyals 2019, arXiv:1905.10887): a LeNet trained on
                  synthetic digits only (as many as the real pool, classes balanced) from each conditional family,
                  tested on held-out real digits; beside the same LeNet trained on the real pool.
  few_labels      N labelled real digits (pool:N, balanced): a LeNet on them alone vs on a mixture with samples
                  of a conditional GAN trained on the same N (`mix:` source, a fraction `synth_ratio` synthetic),
                  the GAN trained without and (`few_labels_diffaugment`) with DiffAugment.
  data_efficient  The conditional GAN trained on a fraction of the pool, with and without DiffAugment (Zhao et
                  al. 2020, arXiv:2006.10738); FID in lenet-mnist features against the whole pool.
  translated      CycleGAN-translated source digits: not run (see `TRANSLATED_SKIPPED`).

Classifier rows repeat over `classifier.seeds` seeds (a fresh LeNet init and batch order each) and report
the mean and a 95% Student-t interval; a GAN is trained once per setting (one seed: its variance is not in
the interval, which the table says).
"""
from __future__ import annotations

import math
import os
import time

import jax
import ml_collections
import numpy as np

from jgan import config as config_lib
from jgan.core.errors import UserError
from jgan.data import sources
from jgan.features import lenet

PROTOCOLS = ("cas", "few_labels", "data_efficient", "translated")
FAMILIES = ("cgan", "cgan_sngan", "acgan")
TRANSLATED_SKIPPED = ("skipped: the CycleGAN digits task (jgan.tasks.cyclegan) builds its two domains from "
                      "halves of all 10,000 embedded digits, held-out ones included, and needs ~15 CPU-minutes "
                      "per run to translate poorly (README): not cheap, and not disjoint from the test split")


# ---------------------------------------------------------------- statistics

def t_quantile(df: int, q: float = 0.975) -> float:
  """The q-quantile of Student's t with `df` degrees of freedom (bisection on its CDF)."""
  from jax.scipy.special import betainc

  def cdf(x: float) -> float:
    tail = 0.5 * float(betainc(df / 2.0, 0.5, df / (df + x * x)))
    return 1.0 - tail if x >= 0 else tail
  lo, hi = 0.0, 1000.0
  for _ in range(100):
    mid = 0.5 * (lo + hi)
    lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
  return 0.5 * (lo + hi)


def mean_ci(values) -> tuple[float, float]:
  """(mean, half-width of the 95% Student-t confidence interval); half-width NaN for one value."""
  values = np.asarray(values, np.float64)
  if len(values) < 2:
    return float(values.mean()), math.nan
  return float(values.mean()), t_quantile(len(values) - 1) * float(values.std(ddof=1)) / math.sqrt(len(values))


# ---------------------------------------------------------------- data

def data_config(study, source: str = "mnist10k", split: str = "train") -> ml_collections.ConfigDict:
  config = config_lib.base_config().data
  config.source, config.split, config.data_dir = source, split, study.data_dir
  return config


def read(study, source: str = "mnist10k", split: str = "train") -> tuple[np.ndarray, np.ndarray]:
  """(uint8 (N, 28, 28, 1), int32 (N,)) of a source: a split of mnist10k, a synthetic set or a `mix:`."""
  arrays = sources.open_source(data_config(study, source, split)).read_all()
  return arrays["x"], arrays["label"]


# ---------------------------------------------------------------- GANs

def gan_config(study, family: str, split: str, augment: str = ""):
  """The config of one GAN of the study: a conditional family's own config, sized by `study.gan`."""
  from experiments.configs import cgan
  smoke = "smoke" if study.smoke else ""
  config = cgan.get_config(("sngan_" + smoke if smoke else "sngan") if family == "cgan_sngan" else smoke)
  if family == "acgan":
    config.model.acgan = True
  elif family not in FAMILIES:
    raise UserError(f"config.families: unknown family {family!r}: use {', '.join(FAMILIES)}")
  config.seed = study.seed
  config.data.split, config.data.data_dir = split, study.data_dir
  if study.smoke:   # batch-shaped inputs whatever the subset size: one compiled step (and cache entry) for all
    config.data.placement = "host"
  config.train.augment = augment
  config.train.num_steps = study.gan.num_steps
  config.train.batch_size = study.gan.batch_size
  width = study.gan.sngan_width if family == "cgan_sngan" else study.gan.width
  if width:
    config.model.g_width = config.model.d_width = width
  if family != "cgan_sngan":   # SNGAN has its own EMA and spectral norm
    config.train.ema_decay = study.gan.ema_decay
    config.train.r1_gamma, config.train.r1_every = study.gan.r1_gamma, 16 if study.gan.r1_gamma else 1
    config.train.lazy_on_device = study.gan.get("lazy_on_device", False)
  log = config.log
  log.tensorboard, log.report = False, False
  log.every_steps = log.checkpoint_every_steps = log.sample_every_steps = study.gan.num_steps
  log.health_every_steps = log.health_sample_every_steps = 0   # the study reads the results, not the health
  return config


def gan_name(family: str, split: str, augment: str) -> str:
  return f"{family}_{split.replace(':', '')}{'_diffaug' if augment else ''}"


def train_gan(study, workdir: str, family: str, split: str, augment: str = "") -> str:
  """Trains (or finds, finished, in `workdir/gans/`) one GAN; returns its run directory."""
  from jgan.train.run import train
  config = gan_config(study, family, split, augment)
  run = os.path.join(workdir, "gans", gan_name(family, split, augment))
  if not os.path.isdir(os.path.join(run, "checkpoints", str(config.train.num_steps))):
    start = time.time()
    train(config, run)
    print(f"study: trained {os.path.basename(run)} ({config.train.num_steps} steps) in {time.time() - start:.0f}s",
          flush=True)
  return run


def synthetic_set(study, run: str, num: int) -> str:
  """`num` balanced samples of `run` as `run/synth_<num>.npz` (written once, seed `study.seed`)."""
  from jgan.infer import sampling, synthesize
  out = os.path.join(run, f"synth_{num}.npz")
  if not os.path.isfile(out):
    synthesize.synthesize(sampling.load(run), num, out, "npz", "balanced", study.seed)
  return out


# ---------------------------------------------------------------- classifiers

def classifier_scores(study, train_images, train_labels, test) -> list[float]:
  """Held-out accuracy of a LeNet trained on the given set, once per classifier seed."""
  scores = []
  for seed in range(study.classifier.seeds):
    params = lenet.fit(train_images, train_labels, study.seed * 1000 + seed, study.classifier.num_steps,
                       study.classifier.batch_size, widths=tuple(study.classifier.widths))
    scores.append(lenet.accuracy(params, *test))
  return scores


def row(protocol: str, setting: str, metric: str, values, note: str = "") -> dict:
  mean, ci = mean_ci(values)
  print(f"study: {protocol} | {setting} | {metric} {mean:.4f} ± {ci:.4f} over {len(values)}: {values}", flush=True)
  return {"protocol": protocol, "setting": setting, "metric": metric, "n": len(values), "mean": mean, "ci95": ci,
          "values": [float(v) for v in values], "note": note}


def run_cas(study, workdir: str, test) -> list[dict]:
  pool_x, pool_y = read(study, split="pool")
  rows = [row("cas", "train on real (pool)", "accuracy", classifier_scores(study, pool_x, pool_y, test),
              f"{len(pool_x)} real")]
  for family in [f.strip() for f in study.families.split(",") if f.strip()]:
    run = train_gan(study, workdir, family, "pool")
    synth = synthetic_set(study, run, len(pool_x))
    x, y = read(study, synth)
    rows.append(row("cas", f"train on {family} samples", "accuracy", classifier_scores(study, x, y, test),
                    f"{len(x)} synthetic; GAN {study.gan.num_steps} steps"))
  return rows


def run_few_labels(study, workdir: str, test) -> list[dict]:
  rows = []
  for num in study.few_labels:
    split = f"pool:{num}"
    x, y = read(study, split=split)
    rows.append(row("few_labels", f"{num} real", "accuracy", classifier_scores(study, x, y, test)))
    # A GAN on a few hundred digits is where DiffAugment matters (D memorises them): with it too, when set.
    for augment in ("", study.diffaugment) if study.few_labels_diffaugment else ("",):
      run = train_gan(study, workdir, study.family, split, augment)
      synth = synthetic_set(study, run, study.num_synth)
      x, y = read(study, f"mix:mnist10k,{synth}@{study.synth_ratio}", split)
      rows.append(row("few_labels", f"{num} real + {study.family}{' (DiffAugment)' if augment else ''} samples",
                      "accuracy", classifier_scores(study, x, y, test),
                      f"{study.num_synth} synthetic, {study.synth_ratio:.0%} of each epoch; GAN on the {num}"))
  return rows


def run_data_efficient(study, workdir: str) -> list[dict]:
  from jgan import eval as jeval
  from jgan.infer import sampling
  rows = []
  pool_size = len(read(study, split="pool")[1])
  for fraction in study.fractions:
    num = round(fraction * pool_size)
    split = "pool" if num >= pool_size else f"pool:{num}"
    for augment in ("", study.diffaugment):
      run = train_gan(study, workdir, study.family, split, augment)
      samples = sampling.load(run).sample(jax.random.key(study.seed), study.fid_num)
      fid = jeval.evaluate(samples, "mnist10k", ("fid",), "lenet-mnist", reference_split="pool",
                           data_dir=study.data_dir)["scores"]["fid"]
      rows.append(row("data_efficient", f"{fraction:.0%} of the pool ({num}){' + DiffAugment' if augment else ''}",
                      "FID", [fid], f"{study.fid_num} samples vs the pool; GAN {study.gan.num_steps} steps"))
  return rows


def run_study(study, workdir: str) -> list[dict]:
  """Every protocol of `study.protocols`; returns the table's rows."""
  protocols = [p.strip() for p in study.protocols.split(",") if p.strip()]
  for p in protocols:
    if p not in PROTOCOLS:
      raise UserError(f"config.protocols: unknown protocol {p!r}: use {', '.join(PROTOCOLS)}")
  test = read(study, split="heldout")
  rows = []
  for protocol in protocols:
    start = time.time()
    if protocol == "cas":
      rows += run_cas(study, workdir, test)
    elif protocol == "few_labels":
      rows += run_few_labels(study, workdir, test)
    elif protocol == "data_efficient":
      rows += run_data_efficient(study, workdir)
    else:
      rows.append({"protocol": "translated", "setting": "CycleGAN-translated digits", "metric": "-", "n": 0,
                   "mean": math.nan, "ci95": math.nan, "values": [], "note": TRANSLATED_SKIPPED})
    print(f"study: {protocol} done in {time.time() - start:.0f}s", flush=True)
  return rows


def format_table(rows: list[dict]) -> str:
  """A Markdown table: protocol, setting, metric, n, mean, 95% CI, note."""
  lines = ["| protocol | setting | metric | n | mean | 95% CI | note |",
           "| --- | --- | --- | ---: | ---: | ---: | --- |"]
  for r in rows:
    digits = 2 if r["metric"] == "FID" else 4
    mean = "-" if math.isnan(r["mean"]) else f"{r['mean']:.{digits}f}"
    ci = "-" if math.isnan(r["ci95"]) else f"± {r['ci95']:.{digits}f}"
    lines.append(f"| {r['protocol']} | {r['setting']} | {r['metric']} | {r['n']} | {mean} | {ci} | {r['note']} |")
  return "\n".join(lines)
