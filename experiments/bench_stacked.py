"""Stacked MNIST table: the plain DCGAN beside jgan's recipe, several seeds each (`make bench-stacked`).

    python -m experiments.bench_stacked --workdir=runs/bench_stacked [--seeds=3] [--recipes=dcgan,jgan]

Trains (or resumes) experiments/configs/stacked_mnist.py's "dcgan" and "" variants once per seed,
scores 26,000 samples of each (modes hit of 1000, KL to uniform) and prints mean +- std per recipe
next to published anchors (VEEGAN's Table 2, PacGAN's Table 3).
"""
import json
import os
import statistics
import time

from absl import flags

from jgan.core import cli
from jgan.core.errors import UserError

_WORKDIR = flags.DEFINE_string("workdir", "runs/bench_stacked", "Where the runs live (one folder per recipe and seed).")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds per recipe.")
_RECIPES = flags.DEFINE_list("recipes", ["dcgan", "jgan"],
                             "dcgan (plain DCGAN), jgan (the default variant) and/or pacgan (packing 2 + EMA).")
_STEPS = flags.DEFINE_integer("num_steps", 0, "Training steps per run (0: the config's).")

VARIANTS = {"dcgan": "dcgan", "jgan": "", "pacgan": "pacgan"}   # recipe -> experiments/configs/stacked_mnist.py variant
ANCHORS = [("DCGAN (VEEGAN Table 2)", "99", "3.40"), ("Unrolled GAN (VEEGAN Table 2)", "48.7", "4.32"),
           ("PacDCGAN2 (PacGAN Table 3)", "1000", "0.06")]


def _read_scores(path: str) -> dict:
  with open(path) as f:
    return json.load(f)["scores"]


def main(argv):
  del argv
  from experiments import stacked_mnist
  from experiments.configs import stacked_mnist as configs
  from jgan import eval as jeval
  from jgan.data import stacked
  from jgan.train.run import train
  unknown = sorted(set(_RECIPES.value) - set(VARIANTS))
  if unknown:
    raise UserError(f"--recipes: unknown {', '.join(unknown)}; use {', '.join(VARIANTS)}")
  rows = []
  for recipe in _RECIPES.value:
    modes, kls, channel_kls, dependence_kls, share_mins, share_maxs, seconds = [], [], [], [], [], [], []
    for seed in range(_SEEDS.value):
      config = configs.get_config(VARIANTS[recipe])
      config.seed = seed
      config.log.tensorboard = False
      if _STEPS.value:
        config.train.num_steps = _STEPS.value
      workdir = os.path.join(_WORKDIR.value, recipe, f"seed{seed}")
      result_path = os.path.join(workdir, "stacked_mnist.json")
      timing_path = os.path.join(workdir, "bench_seconds.json")
      start = time.time()
      state = train(config, workdir)
      if not os.path.isfile(result_path) or "channel_kl" not in _read_scores(result_path):  # scored before the split
        stacked_mnist.report(config, workdir, state)
      scores = _read_scores(result_path)
      modes.append(scores["modes"])
      kls.append(scores["kl"])
      channel_kls.append(scores["channel_kl"])
      dependence_kls.append(scores["dependence_kl"])
      share_mins.append(scores["share_min"])
      share_maxs.append(scores["share_max"])
      # A finished run that is only re-read costs seconds: its entry is the time of the call that trained it
      # (of its last part, if that call resumed it).
      if not os.path.isfile(timing_path):
        with open(timing_path, "w") as f:
          json.dump({"seconds": time.time() - start}, f)
      with open(timing_path) as f:
        seconds.append(json.load(f)["seconds"])
    spread = lambda xs: f"{statistics.mean(xs):.1f} +- {statistics.pstdev(xs):.1f}"
    spread3 = lambda xs: f"{statistics.mean(xs):.3f} +- {statistics.pstdev(xs):.3f}"
    rows.append((recipe, spread(modes), spread3(kls), spread3(channel_kls), spread3(dependence_kls),
                 f"{100 * min(share_mins):.1f}-{100 * max(share_maxs):.1f}%", f"{statistics.mean(seconds):.0f}"))
  print(f"\nStacked MNIST, 26,000 samples per run, {_SEEDS.value} seeds (mean +- std)")
  print("| recipe | modes (of 1000) | KL to uniform | of which channels' shares | of which dependence "
        "| a digit's share of a channel | s per run |")
  print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
  for row in rows:
    print("| " + " | ".join(row) + " |")
  # The real-data anchor, scored by the same protocol: what a G that matched the data would earn.
  real = jeval.evaluate(stacked.heldout_stacks(26_000), metrics=("stacked_mnist",))["scores"]
  print(f"| real data (held-out digits, 26,000 stacks) | {real['modes']} | {real['kl']:.3f} | "
        f"{real['channel_kl']:.3f} | {real['dependence_kl']:.3f} | "
        f"{100 * real['share_min']:.1f}-{100 * real['share_max']:.1f}% | |")
  for name, modes, kl in ANCHORS:
    print(f"| {name} | {modes} | {kl} | | | | |")


if __name__ == "__main__":
  cli.run(main)
