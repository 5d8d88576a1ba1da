"""The 2D mode-coverage benchmark (PacGAN protocol), or one toy run with --workdir.

    python -m experiments.toy2d                   # every recipe x {ring8, grid25} x 5 seeds: the table
    python -m experiments.toy2d --config=experiments/configs/toy2d.py:smoke
    python -m experiments.toy2d --workdir=runs/toy2d --config.data.source=grid25   # one run of the loop
"""
from absl import flags
from ml_collections import config_flags

from jgan.core import cli

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/configs/toy2d.py", "Benchmark config.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "", "Train the default recipe once in this run directory instead.")


def main(argv):
  del argv
  from experiments.configs.toy2d import recipe_config
  from jgan.bench import toy as toybench
  from jgan.train.run import train
  config = _CONFIG.value
  if _WORKDIR.value:
    train(config, _WORKDIR.value)
    return
  bench = config.bench
  print(f"mode coverage: {config.train.num_steps} steps unless a recipe sets its own, "
        f"batch {config.train.batch_size}, {bench.seeds} seeds, "
        f"{toybench.modes_lib.NUM_SAMPLES} samples, HQ = within 3 sigma of a mode", flush=True)
  configs = {name: recipe_config(config, name) for name in bench.recipes}
  results = toybench.run(configs, bench.datasets, range(bench.seeds), print_fn=lambda s: print(s, flush=True))
  print(toybench.format_table(results, bench.datasets, bench.recipes))


if __name__ == "__main__":
  cli.run(main)
