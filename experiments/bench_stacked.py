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

_WORKDIR = flags.DEFINE_string("workdir", "runs/bench_stacked", "Where the runs live (one folder per recipe and seed).")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds per recipe.")
_RECIPES = flags.DEFINE_list("recipes", ["dcgan", "jgan"], "dcgan (plain DCGAN) and/or jgan (the default variant).")
_STEPS = flags.DEFINE_integer("num_steps", 0, "Training steps per run (0: the config's).")

ANCHORS = [("DCGAN (VEEGAN Table 2)", "99", "3.40"), ("Unrolled GAN (VEEGAN Table 2)", "48.7", "4.32"),
           ("PacDCGAN2 (PacGAN Table 3)", "1000", "0.06")]


def main(argv):
  del argv
  from experiments import stacked_mnist
  from experiments.configs import stacked_mnist as configs
  from jgan.train.run import train
  rows = []
  for recipe in _RECIPES.value:
    modes, kls, seconds = [], [], []
    for seed in range(_SEEDS.value):
      config = configs.get_config("dcgan" if recipe == "dcgan" else "")
      config.seed = seed
      config.log.tensorboard = False
      if _STEPS.value:
        config.train.num_steps = _STEPS.value
      workdir = os.path.join(_WORKDIR.value, recipe, f"seed{seed}")
      result_path = os.path.join(workdir, "stacked_mnist.json")
      timing_path = os.path.join(workdir, "bench_seconds.json")
      start = time.time()
      state = train(config, workdir)
      if not os.path.isfile(result_path):
        stacked_mnist.report(config, workdir, state)
      with open(result_path) as f:
        scores = json.load(f)["scores"]
      modes.append(scores["modes"])
      kls.append(scores["kl"])
      # A finished run that is only re-read costs seconds: its entry is the time of the call that trained it
      # (of its last part, if that call resumed it).
      if not os.path.isfile(timing_path):
        with open(timing_path, "w") as f:
          json.dump({"seconds": time.time() - start}, f)
      with open(timing_path) as f:
        seconds.append(json.load(f)["seconds"])
    spread = lambda xs: f"{statistics.mean(xs):.1f} +- {statistics.pstdev(xs):.1f}"
    rows.append((recipe, spread(modes), f"{statistics.mean(kls):.3f} +- {statistics.pstdev(kls):.3f}",
                 f"{statistics.mean(seconds):.0f}"))
  print(f"\nStacked MNIST, 26,000 samples per run, {_SEEDS.value} seeds (mean +- std)")
  print("| recipe | modes (of 1000) | KL to uniform | s per run |")
  print("| --- | ---: | ---: | ---: |")
  for row in rows:
    print("| " + " | ".join(row) + " |")
  for name, modes, kl in ANCHORS:
    print(f"| {name} | {modes} | {kl} | |")


if __name__ == "__main__":
  cli.run(main)
