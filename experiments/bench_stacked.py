"""Stacked MNIST table: the plain DCGAN beside jgan's recipe, several seeds each (`make bench-stacked`).

    python -m experiments.bench_stacked --workdir=runs/bench_stacked [--seeds=3] [--recipes=dcgan,jgan]

Trains (or resumes) experiments/configs/stacked_mnist.py's "dcgan" and "" variants once per seed,
scores 26,000 samples of each (modes hit of 1000, KL to uniform) and prints mean +- std per recipe
next to the real-data row and published anchors (VEEGAN's Table 2, PacGAN's Table 3); the logic is
jgan.bench.stacked's.
"""
import os

from absl import flags

from jgan.bench import stacked as bench
from jgan.core import cli

_WORKDIR = flags.DEFINE_string("workdir", "runs/bench_stacked", "Where the runs live (one folder per recipe and seed).")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds per recipe.")
_RECIPES = flags.DEFINE_list("recipes", ["dcgan", "jgan"],
                             "dcgan (plain DCGAN), jgan (the default variant) and/or pacgan (packing 2 + EMA).")
_STEPS = flags.DEFINE_integer("num_steps", 0, "Training steps per run (0: the config's).")


def main(argv):
  del argv
  from experiments.configs import stacked_mnist as configs
  from jgan import eval as jeval
  from jgan.data import stacked
  from jgan.metrics.stacked_mnist import NUM_SAMPLES
  bench.check_recipes(_RECIPES.value)
  rows = []
  for recipe in _RECIPES.value:
    runs = []
    for seed in range(_SEEDS.value):
      config = configs.get_config(bench.VARIANTS[recipe])
      config.seed = seed
      config.log.tensorboard = False
      if _STEPS.value:
        config.train.num_steps = _STEPS.value
      runs.append(bench.score_run(config, os.path.join(_WORKDIR.value, recipe, f"seed{seed}")))
    rows.append(bench.summary_row(recipe, runs))
  real = jeval.evaluate(stacked.heldout_stacks(NUM_SAMPLES), metrics=("stacked_mnist",))["scores"]
  print("\n" + bench.format_table(rows, real, _SEEDS.value))


if __name__ == "__main__":
  cli.run(main)
